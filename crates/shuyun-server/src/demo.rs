//! Demo data: the Jingdezhen pilot (seed 002): the data bureau, the
//! digital-economy centre, the ten source departments of annex 1, two
//! operators, two banks, a regulator and a platform administrator, each with
//! one demo login. Seeding is idempotent.

use shuyun_domain::{CreditCode, OrgKind};
use shuyun_store::accounts::{NewOrg, NewUser};
use shuyun_store::{Store, StoreResult};

/// The password of every demo account (documented in README.md).
pub const DEMO_PASSWORD: &str = "shuyun-demo-2026";

/// (username, display name, org name, org English name, kind)
pub const DEMO_ACCOUNTS: &[(&str, &str, &str, &str, OrgKind)] = &[
    (
        "sjj",
        "数据局 王科长",
        "景德镇市数据局",
        "Jingdezhen Municipal Data Bureau",
        OrgKind::DataAuthority,
    ),
    (
        "szzx",
        "数字经济发展中心 李工",
        "景德镇市数字经济发展中心",
        "Jingdezhen Digital Economy Development Centre",
        OrgKind::ImplementingInstitution,
    ),
    (
        "fgw",
        "发改委 数据专员",
        "景德镇市发展和改革委员会",
        "Jingdezhen Development and Reform Commission",
        OrgKind::SourceDepartment,
    ),
    (
        "zjj",
        "住建局 数据专员",
        "景德镇市住房和城乡建设局",
        "Jingdezhen Housing and Urban-Rural Development Bureau",
        OrgKind::SourceDepartment,
    ),
    (
        "tjj",
        "统计局 数据专员",
        "景德镇市统计局",
        "Jingdezhen Statistics Bureau",
        OrgKind::SourceDepartment,
    ),
    (
        "jtj",
        "交通局 数据专员",
        "景德镇市交通运输局",
        "Jingdezhen Transport Bureau",
        OrgKind::SourceDepartment,
    ),
    (
        "wlj",
        "文旅局 数据专员",
        "景德镇市文化广电新闻出版旅游局",
        "Jingdezhen Culture and Tourism Bureau",
        OrgKind::SourceDepartment,
    ),
    (
        "wjw",
        "卫健委 数据专员",
        "景德镇市卫生健康委员会",
        "Jingdezhen Health Commission",
        OrgKind::SourceDepartment,
    ),
    (
        "cgj",
        "城管局 数据专员",
        "景德镇市城市管理局",
        "Jingdezhen Urban Management Bureau",
        OrgKind::SourceDepartment,
    ),
    (
        "zwj",
        "政务局 数据专员",
        "景德镇市政务服务管理局",
        "Jingdezhen Government Services Administration",
        OrgKind::SourceDepartment,
    ),
    (
        "sthjj",
        "生态环境局 数据专员",
        "景德镇市生态环境局",
        "Jingdezhen Ecology and Environment Bureau",
        OrgKind::SourceDepartment,
    ),
    (
        "gxj",
        "工信局 数据专员",
        "景德镇市工业和信息化局",
        "Jingdezhen Industry and Information Technology Bureau",
        OrgKind::SourceDepartment,
    ),
    (
        "yunying1",
        "瓷都数据运营 张经理",
        "景德镇瓷都数据运营有限公司（演示）",
        "Cidu Data Operations Co. (demo)",
        OrgKind::Operator,
    ),
    (
        "yunying2",
        "昌南数智科技 赵经理",
        "江西昌南数智科技有限公司（演示）",
        "Changnan Digital Intelligence Tech Co. (demo)",
        OrgKind::Operator,
    ),
    (
        "bank1",
        "浮梁农商银行 信贷部",
        "浮梁农村商业银行（演示）",
        "Fuliang Rural Commercial Bank (demo)",
        OrgKind::Buyer,
    ),
    (
        "bank2",
        "昌江银行 普惠金融部",
        "昌江银行景德镇分行（演示）",
        "Changjiang Bank Jingdezhen Branch (demo)",
        OrgKind::Buyer,
    ),
    (
        "jianguan",
        "网信办 监管员",
        "中共景德镇市委网络安全和信息化委员会办公室",
        "Jingdezhen Cyberspace Affairs Office",
        OrgKind::Regulator,
    ),
    (
        "admin",
        "平台管理员",
        "数运平台运维中心",
        "shuyun Platform Operations Centre",
        OrgKind::Platform,
    ),
];

/// A valid, clearly synthetic credit code for demo organisation `n`:
/// government bodies start `11`, enterprises `91`.
pub fn demo_credit_code(kind: OrgKind, n: usize) -> CreditCode {
    let head = match kind {
        OrgKind::Operator | OrgKind::Buyer | OrgKind::Platform => "91",
        _ => "11",
    };
    let first17 = format!("{head}360200MA{n:07}");
    let check = CreditCode::check_char(&first17).unwrap_or('0');
    format!("{first17}{check}")
        .parse()
        .unwrap_or_else(|_| unreachable_code())
}

fn unreachable_code() -> CreditCode {
    // check_char always yields a valid character for a valid prefix.
    "91350100M000100Y43"
        .parse()
        .unwrap_or_else(|_| unreachable_code())
}

/// Seed the pilot's organisations and users unless they exist.
pub async fn seed(store: &Store, now_ms: i64) -> StoreResult<bool> {
    if !store.list_orgs().await?.is_empty() {
        return Ok(false);
    }
    for (n, (username, display, org, org_en, kind)) in DEMO_ACCOUNTS.iter().enumerate() {
        let o = store
            .create_org(
                "system:demo",
                NewOrg {
                    name: (*org).into(),
                    name_en: (*org_en).into(),
                    kind: *kind,
                    credit_code: demo_credit_code(*kind, n + 1),
                    division_code: "360200".parse()?,
                },
                now_ms,
            )
            .await?;
        store
            .create_user(
                "system:demo",
                NewUser {
                    org_id: o.id,
                    username: username.parse()?,
                    display_name: (*display).into(),
                    password: DEMO_PASSWORD.into(),
                },
                false,
                now_ms,
            )
            .await?;
    }
    Ok(true)
}

/// Register the pilot's first-batch resources (seed 002 annex 1) for their
/// departments, confirm the grades that need the data authority, and load
/// each with deterministic synthetic data scaled by `scale`.
pub async fn seed_pilot(
    store: &Store,
    objects: std::sync::Arc<dyn object_store::ObjectStore>,
    division: &shuyun_domain::DivisionCode,
    scale: f64,
    now_ms: i64,
) -> Result<usize, String> {
    use shuyun_domain::catalogue::{Grade, GradeBasis, ImpactDegree, ImpactObject, PiTag};
    use shuyun_domain::workflow::GradingAction;
    use shuyun_store::catalogue::{NewResource, Rights};

    let err = |e: shuyun_store::StoreError| e.into_domain().message;
    let authority = store
        .login("sjj", DEMO_PASSWORD, "demo", now_ms)
        .await
        .map_err(err)?;
    let mut sessions = vec![authority.principal.clone()];
    let mut count = 0;
    for (i, pr) in shuyun_data::pilot::pilot_resources()
        .into_iter()
        .enumerate()
    {
        let owner = store
            .login(pr.owner_username, DEMO_PASSWORD, "demo", now_ms)
            .await
            .map_err(err)?
            .principal;
        let grade = pr.schema.min_resource_grade();
        let has_pi = pr.schema.fields().iter().any(|f| f.pi != PiTag::None);
        let (impact_object, impact_degree) = match (grade >= Grade::Important, has_pi) {
            (true, true) => (ImpactObject::PersonalRights, ImpactDegree::Serious),
            (true, false) => (ImpactObject::PublicInterest, ImpactDegree::Serious),
            (false, true) => (ImpactObject::PersonalRights, ImpactDegree::Moderate),
            (false, false) => (ImpactObject::OrganisationRights, ImpactDegree::Minor),
        };
        let new = NewResource {
            name: pr.name.into(),
            description: pr.description.chars().take(2000).collect(),
            domain: pr.domain,
            frequency: pr.frequency,
            source_system: pr.source_system.into(),
            standard: pr.standard.into(),
            contact: format!("{}数据专员", owner.org_name),
            rights: Rights {
                holder: owner.org_name.clone(),
                processor: "景德镇市数字经济发展中心".into(),
                operator: "待授权运营机构".into(),
            },
            shared_from_org_id: None,
            public: true,
            open_data: grade <= Grade::General2 && !has_pi,
            schema: pr.schema.clone(),
            grade: None,
            basis: GradeBasis {
                impact_object,
                impact_degree,
                reason: pr.description.chars().take(500).collect(),
            },
        };
        let r = store
            .register_resource(&owner, division, new, now_ms)
            .await
            .map_err(err)?;
        if r.pending_grading.is_some() {
            store
                .decide_grading(
                    &authority.principal,
                    r.id,
                    1,
                    GradingAction::Confirm,
                    "试点分级经数据局确认",
                    now_ms,
                )
                .await
                .map_err(err)?;
        }
        store
            .set_quality_rules(&owner, r.id, shuyun_data::pilot::quality_rules(&pr), now_ms)
            .await
            .map_err(err)?;
        let mut csv = Vec::new();
        shuyun_data::pilot::generate_csv(pr.key, scale, 2026 + i as u64, &mut csv)
            .map_err(|e| e.to_string())?;
        crate::api::data::load_reader(
            store,
            objects.clone(),
            &owner,
            r.id,
            shuyun_data::ingest::InputFormat::Csv(shuyun_data::ingest::TextEncoding::Utf8),
            "csv",
            &format!("{}.csv", pr.key),
            std::io::Cursor::new(csv),
            now_ms,
        )
        .await
        .map_err(|e| format!("pilot data for {}: {}", pr.key, e.into_domain(r.id).message))?;
        sessions.push(owner);
        count += 1;
    }
    for p in &sessions {
        store.logout(p, now_ms).await.map_err(err)?;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_codes_are_valid_and_distinct() {
        let codes: Vec<String> = DEMO_ACCOUNTS
            .iter()
            .enumerate()
            .map(|(n, a)| demo_credit_code(a.4, n + 1).to_string())
            .collect();
        let mut d = codes.clone();
        d.sort();
        d.dedup();
        assert_eq!(d.len(), codes.len());
        assert_eq!(
            DEMO_ACCOUNTS
                .iter()
                .filter(|a| a.4 == OrgKind::SourceDepartment)
                .count(),
            10
        );
    }
}
