//! Deterministic synthetic data for the Jingdezhen pilot's first batch of
//! resources (第一批拟纳入授权运营的公共数据资源目录清单, annex 1): the
//! catalogue entries with their schemas, and a streaming CSV generator.
//!
//! Everything is a pure function of `(resource, scale, seed)`. Entities are
//! shared across resources so that joins are meaningful: enterprise `i` has
//! the same 统一社会信用代码, name and industry wherever it appears
//! (enterprise credit, major and construction projects, vehicles' operators,
//! medical institutions, key industries), and person `i` the same 身份证号
//! and name (person credit, vehicle drivers, 12345 complainants).
//!
//! Identifiers are valid in format and check character but fictitious:
//! credit codes are `91`, a Jingdezhen division code, a 9-character body
//! and the check character; resident IDs use Jingdezhen division codes, birth
//! dates 1950-2004 and sequence codes 900-999 (the generator's marker: it
//! never emits other sequence codes). Both are bijections of the entity
//! index, so they never repeat (persons: up to 8 million).
//!
//! Grading follows GB/T 43697 as a careful data bureau would: identity and
//! phone numbers are sensitive personal information (general4, or important
//! where combined with credit records at city scale); names are personal
//! information (general3); individual credit scores are important (their
//! leakage harms individuals' rights at scale); enterprise registration
//! facts are public (general1); enterprise operating figures are business
//! information (general3); aggregate statistics and environmental readings
//! are general1/general2. Nothing is core data.

use std::io::{self, Write};

use shuyun_domain::catalogue::{
    DataDomain, FieldSpec, FieldType, Grade, PiTag, Schema, UpdateFrequency,
};
use shuyun_domain::ids::{CreditCode, ResidentId};

use crate::ingest::civil::{civil_from_days, days_from_civil};

/// One catalogue entry of the pilot.
#[derive(Debug, Clone)]
pub struct PilotResource {
    /// Stable key, e.g. `enterprise_credit`.
    pub key: &'static str,
    /// Chinese name.
    pub name: &'static str,
    pub name_en: &'static str,
    pub description: &'static str,
    /// The providing department's login: fgw zjj tjj jtj wlj wjw cgj zwj sthjj gxj.
    pub owner_username: &'static str,
    pub domain: DataDomain,
    pub frequency: UpdateFrequency,
    pub source_system: &'static str,
    pub standard: &'static str,
    pub schema: Schema,
}

/// Jingdezhen's county-level divisions: (code, name).
const DISTRICTS: [(&str, &str); 4] = [
    ("360202", "昌江区"),
    ("360203", "珠山区"),
    ("360222", "浮梁县"),
    ("360281", "乐平市"),
];

/// Entity counts at scale 1.0.
const PERSONS: f64 = 2000.0;
const ENTERPRISES: f64 = 500.0;

struct F(FieldSpec);

fn f(name: &str, label: &str, ty: FieldType, grade: Grade, pi: PiTag) -> F {
    let name = match name.parse() {
        Ok(n) => n,
        Err(e) => panic!("pilot field name {name}: {e}"),
    };
    F(FieldSpec {
        name,
        label: label.to_string(),
        field_type: ty,
        unit: None,
        nullable: false,
        key: false,
        grade,
        pi,
    })
}

impl F {
    fn key(mut self) -> Self {
        self.0.key = true;
        self
    }
    fn null(mut self) -> Self {
        self.0.nullable = true;
        self
    }
    fn unit(mut self, u: &str) -> Self {
        self.0.unit = Some(u.to_string());
        self
    }
}

fn schema(key: &str, fields: Vec<F>) -> Schema {
    // The pilot schemas are static; `pilot_schemas_are_valid` checks them.
    match Schema::new(fields.into_iter().map(|f| f.0).collect()) {
        Ok(s) => s,
        Err(e) => panic!("pilot schema {key}: {e}"),
    }
}

use FieldType::{Bool, Date, Fen, Float64, Int64, String as Text, Timestamp};
use Grade::{General1 as G1, General2 as G2, General3 as G3, General4 as G4, Important};
use PiTag::{None as NoPi, Pi, SensitivePi};

/// The pilot's first batch of resources (14 resources of ten departments).
pub fn pilot_resources() -> Vec<PilotResource> {
    vec![
        PilotResource {
            key: "person_credit",
            name: "个人信用信息",
            name_en: "Personal credit information",
            description: "自然人信用评价结果与失信记录。身份证号为敏感个人信息，与信用记录汇聚后达到城市规模，定为重要数据；信用分定为重要数据；姓名为个人信息（一般3级）。",
            owner_username: "fgw",
            domain: DataDomain::Credit,
            frequency: UpdateFrequency::Monthly,
            source_system: "景德镇市公共信用信息平台",
            standard: "GB/T 22117-2018 信用 基本术语；GB 11643-1999",
            schema: schema(
                "person_credit",
                vec![
                    f("id_number", "公民身份号码", Text, Important, SensitivePi).key(),
                    f("name", "姓名", Text, G3, Pi),
                    f("district", "户籍所在区县", Text, G1, NoPi),
                    f("credit_score", "信用评分", Int64, Important, Pi).unit("分"),
                    f("credit_level", "信用等级", Text, Important, Pi),
                    f("dishonest", "是否失信被执行人", Bool, Important, Pi),
                    f("record_count", "信用记录条数", Int64, G3, Pi).unit("条"),
                    f("updated_at", "更新时间", Timestamp, G1, NoPi),
                ],
            ),
        },
        PilotResource {
            key: "enterprise_credit",
            name: "企业信用信息",
            name_en: "Enterprise credit information",
            description: "市场主体登记信息与信用评价。登记事项依法公示（一般1级）；法定代表人姓名为个人信息；信用评分为重要数据（批量泄露影响市场秩序）。",
            owner_username: "fgw",
            domain: DataDomain::Credit,
            frequency: UpdateFrequency::Monthly,
            source_system: "景德镇市公共信用信息平台",
            standard: "GB 32100-2015 法人和其他组织统一社会信用代码编码规则",
            schema: schema(
                "enterprise_credit",
                vec![
                    f("credit_code", "统一社会信用代码", Text, G1, NoPi).key(),
                    f("name", "企业名称", Text, G1, NoPi),
                    f("legal_rep", "法定代表人", Text, G3, Pi),
                    f("district", "所在区县", Text, G1, NoPi),
                    f("industry", "所属行业", Text, G1, NoPi),
                    f("registered_capital", "注册资本", Fen, G1, NoPi).unit("分"),
                    f("established", "成立日期", Date, G1, NoPi),
                    f("credit_score", "信用评分", Int64, Important, NoPi).unit("分"),
                    f("credit_level", "信用等级", Text, G3, NoPi),
                    f("abnormal", "是否列入经营异常名录", Bool, G1, NoPi),
                ],
            ),
        },
        PilotResource {
            key: "major_projects",
            name: "重大建设项目基础信息",
            name_en: "Major construction projects",
            description: "市级重大建设项目的立项、投资与进度信息（已公开部分为主，一般2级）。",
            owner_username: "fgw",
            domain: DataDomain::Construction,
            frequency: UpdateFrequency::Monthly,
            source_system: "全国投资项目在线审批监管平台（景德镇）",
            standard: "投资项目统一代码编码规则",
            schema: schema(
                "major_projects",
                vec![
                    f("project_code", "项目代码", Text, G1, NoPi).key(),
                    f("project_name", "项目名称", Text, G1, NoPi),
                    f(
                        "owner_credit_code",
                        "项目单位统一社会信用代码",
                        Text,
                        G1,
                        NoPi,
                    ),
                    f("district", "建设地点", Text, G1, NoPi),
                    f("category", "项目类别", Text, G1, NoPi),
                    f("total_investment", "总投资", Fen, G2, NoPi).unit("分"),
                    f("start_date", "开工日期", Date, G1, NoPi),
                    f("planned_completion", "计划竣工日期", Date, G1, NoPi).null(),
                    f("status", "项目状态", Text, G1, NoPi),
                ],
            ),
        },
        PilotResource {
            key: "construction_projects",
            name: "工程建设项目基础信息",
            name_en: "Construction projects",
            description: "施工许可及工程建设项目信息；建设单位与施工单位以统一社会信用代码关联企业信用信息（一般2级）。",
            owner_username: "zjj",
            domain: DataDomain::Construction,
            frequency: UpdateFrequency::Weekly,
            source_system: "江西省工程建设项目审批管理系统",
            standard: "工程建设项目审批管理系统数据标准",
            schema: schema(
                "construction_projects",
                vec![
                    f("permit_no", "施工许可证编号", Text, G1, NoPi).key(),
                    f("project_name", "项目名称", Text, G1, NoPi),
                    f(
                        "builder_credit_code",
                        "建设单位统一社会信用代码",
                        Text,
                        G1,
                        NoPi,
                    ),
                    f(
                        "contractor_credit_code",
                        "施工单位统一社会信用代码",
                        Text,
                        G1,
                        NoPi,
                    ),
                    f("district", "所在区县", Text, G1, NoPi),
                    f("floor_area", "建筑面积", Float64, G1, NoPi).unit("平方米"),
                    f("contract_amount", "合同价格", Fen, G2, NoPi).unit("分"),
                    f("permit_date", "发证日期", Date, G1, NoPi),
                    f("status", "项目状态", Text, G1, NoPi),
                ],
            ),
        },
        PilotResource {
            key: "industry_stats",
            name: "重点产业统计指标数据",
            name_en: "Key industry statistics",
            description: "重点产业月度统计指标（汇总数据，不含个体信息，一般1级）。",
            owner_username: "tjj",
            domain: DataDomain::Statistics,
            frequency: UpdateFrequency::Monthly,
            source_system: "统计联网直报平台",
            standard: "GB/T 4754-2017 国民经济行业分类",
            schema: schema(
                "industry_stats",
                vec![
                    f("period", "统计月份", Date, G1, NoPi).key(),
                    f("industry", "产业", Text, G1, NoPi).key(),
                    f("indicator", "指标名称", Text, G1, NoPi).key(),
                    f("value", "指标值", Float64, G1, NoPi),
                    f("unit", "计量单位", Text, G1, NoPi),
                    f("yoy_pct", "同比增长", Float64, G1, NoPi).unit("%").null(),
                ],
            ),
        },
        PilotResource {
            key: "vehicles",
            name: "出租车、网约车、货运车信息",
            name_en: "Taxis, ride-hailing and freight vehicles",
            description: "营运车辆及驾驶员信息。驾驶员身份证号、手机号为敏感个人信息（一般4级）；姓名为个人信息；经营者以统一社会信用代码关联企业信用信息。",
            owner_username: "jtj",
            domain: DataDomain::Transport,
            frequency: UpdateFrequency::Daily,
            source_system: "道路运输管理信息系统",
            standard: "JT/T 415-2006 道路运政管理信息系统数据交换",
            schema: schema(
                "vehicles",
                vec![
                    f("plate_no", "车牌号码", Text, G3, NoPi).key(),
                    f("vehicle_type", "车辆类型", Text, G1, NoPi),
                    f(
                        "operator_credit_code",
                        "经营者统一社会信用代码",
                        Text,
                        G1,
                        NoPi,
                    ),
                    f("driver_id_number", "驾驶员身份证号", Text, G4, SensitivePi),
                    f("driver_name", "驾驶员姓名", Text, G3, Pi),
                    f("driver_phone", "驾驶员手机号", Text, G4, SensitivePi),
                    f("licensed_on", "道路运输证发证日期", Date, G1, NoPi),
                    f("fuel", "燃料类型", Text, G1, NoPi),
                    f("seats", "核定座位", Int64, G1, NoPi).unit("座").null(),
                    f("load_tonnes", "核定载质量", Float64, G1, NoPi)
                        .unit("吨")
                        .null(),
                ],
            ),
        },
        PilotResource {
            key: "culture_venues",
            name: "公共文化场馆信息",
            name_en: "Public cultural venues",
            description: "博物馆、图书馆、文化馆等公共文化场馆的基本信息与年接待量（公开信息，一般1级）。",
            owner_username: "wlj",
            domain: DataDomain::CultureTourism,
            frequency: UpdateFrequency::Quarterly,
            source_system: "公共文化服务管理平台",
            standard: "GB/T 28220-2023 公共图书馆服务规范",
            schema: schema(
                "culture_venues",
                vec![
                    f("venue_id", "场馆编号", Text, G1, NoPi).key(),
                    f("name", "场馆名称", Text, G1, NoPi),
                    f("kind", "场馆类型", Text, G1, NoPi),
                    f("district", "所在区县", Text, G1, NoPi),
                    f("longitude", "经度", Float64, G1, NoPi).unit("度"),
                    f("latitude", "纬度", Float64, G1, NoPi).unit("度"),
                    f("annual_visitors", "年接待人次", Int64, G1, NoPi).unit("人次"),
                    f("free_admission", "是否免费开放", Bool, G1, NoPi),
                ],
            ),
        },
        PilotResource {
            key: "medical_institutions",
            name: "医疗机构经营信息",
            name_en: "Medical institutions' operations",
            description: "医疗机构年度经营数据（床位、诊疗人次、收入）。机构经营数据属商业信息（一般3级），不含患者个人信息。",
            owner_username: "wjw",
            domain: DataDomain::Health,
            frequency: UpdateFrequency::Yearly,
            source_system: "卫生健康统计信息系统",
            standard: "WS 363-2011 卫生信息数据元目录",
            schema: schema(
                "medical_institutions",
                vec![
                    f("credit_code", "统一社会信用代码", Text, G1, NoPi).key(),
                    f("year", "年度", Int64, G1, NoPi).key(),
                    f("name", "机构名称", Text, G1, NoPi),
                    f("level", "医院等级", Text, G1, NoPi),
                    f("district", "所在区县", Text, G1, NoPi),
                    f("beds", "编制床位", Int64, G2, NoPi).unit("张"),
                    f("outpatient_visits", "门急诊人次", Int64, G3, NoPi).unit("人次"),
                    f("revenue", "医疗收入", Fen, G3, NoPi).unit("分"),
                ],
            ),
        },
        PilotResource {
            key: "urban_cases",
            name: "城管案件信息",
            name_en: "Urban management cases",
            description: "数字城管案件的来源、类别、处置时效（不含当事人信息，一般2级）。",
            owner_username: "cgj",
            domain: DataDomain::UrbanManagement,
            frequency: UpdateFrequency::Daily,
            source_system: "数字化城市管理信息系统",
            standard: "GB/T 30428-2013 数字化城市管理信息系统",
            schema: schema(
                "urban_cases",
                vec![
                    f("case_no", "案件编号", Text, G1, NoPi).key(),
                    f("source", "案件来源", Text, G1, NoPi),
                    f("category", "案件类别", Text, G1, NoPi),
                    f("district", "所在区县", Text, G1, NoPi),
                    f("reported_at", "上报时间", Timestamp, G1, NoPi),
                    f("closed_at", "结案时间", Timestamp, G1, NoPi).null(),
                    f("status", "案件状态", Text, G1, NoPi),
                ],
            ),
        },
        PilotResource {
            key: "public_facilities",
            name: "城市公共设施信息",
            name_en: "Urban public facilities",
            description: "路灯、公厕、垃圾转运站等城市部件的位置与状态（一般2级：位置信息汇聚后需防范滥用）。",
            owner_username: "cgj",
            domain: DataDomain::UrbanManagement,
            frequency: UpdateFrequency::Monthly,
            source_system: "数字化城市管理信息系统",
            standard: "GB/T 30428.2-2013 管理部件和事件",
            schema: schema(
                "public_facilities",
                vec![
                    f("facility_id", "部件标识码", Text, G1, NoPi).key(),
                    f("kind", "部件类型", Text, G1, NoPi),
                    f("district", "所在区县", Text, G1, NoPi),
                    f("longitude", "经度", Float64, G2, NoPi).unit("度"),
                    f("latitude", "纬度", Float64, G2, NoPi).unit("度"),
                    f("installed_on", "设置日期", Date, G1, NoPi),
                    f("condition", "部件状态", Text, G1, NoPi),
                ],
            ),
        },
        PilotResource {
            key: "gov_service_cases",
            name: "政务服务办件信息",
            name_en: "Government service cases",
            description: "政务服务事项办件过程与时效；法人申请人以统一社会信用代码关联（个人申请人不提供身份信息，一般2级）。",
            owner_username: "zwj",
            domain: DataDomain::GovernmentService,
            frequency: UpdateFrequency::Daily,
            source_system: "江西省一体化政务服务平台",
            standard: "GB/T 39047-2020 政务服务评价工作指南",
            schema: schema(
                "gov_service_cases",
                vec![
                    f("case_no", "办件编号", Text, G1, NoPi).key(),
                    f("item_name", "事项名称", Text, G1, NoPi),
                    f("applicant_type", "申请人类型", Text, G1, NoPi),
                    f(
                        "applicant_credit_code",
                        "申请单位统一社会信用代码",
                        Text,
                        G1,
                        NoPi,
                    )
                    .null(),
                    f("channel", "申请渠道", Text, G1, NoPi),
                    f("accepted_at", "受理时间", Timestamp, G1, NoPi),
                    f("completed_at", "办结时间", Timestamp, G1, NoPi).null(),
                    f("within_deadline", "是否按时办结", Bool, G1, NoPi).null(),
                ],
            ),
        },
        PilotResource {
            key: "complaints_12345",
            name: "12345投诉信息",
            name_en: "12345 hotline complaints",
            description: "12345 政务服务便民热线诉求。来电人身份证号与手机号为敏感个人信息（一般4级）；诉求内容可能含个人信息（一般3级）。",
            owner_username: "zwj",
            domain: DataDomain::GovernmentService,
            frequency: UpdateFrequency::Daily,
            source_system: "12345政务服务便民热线系统",
            standard: "GB/T 33358-2016 政府热线服务规范",
            schema: schema(
                "complaints_12345",
                vec![
                    f("ticket_no", "工单编号", Text, G1, NoPi).key(),
                    f("caller_id_number", "来电人身份证号", Text, G4, SensitivePi).null(),
                    f("caller_phone", "来电号码", Text, G4, SensitivePi),
                    f("category", "诉求类别", Text, G1, NoPi),
                    f("district", "所在区县", Text, G1, NoPi),
                    f("content", "诉求内容", Text, G3, Pi),
                    f("received_at", "受理时间", Timestamp, G1, NoPi),
                    f("satisfied", "是否满意", Bool, G2, Pi).null(),
                ],
            ),
        },
        PilotResource {
            key: "env_quality_monthly",
            name: "环境质量月报",
            name_en: "Monthly environmental quality",
            description: "各区县空气质量月均值（公开统计数据，一般1级）。",
            owner_username: "sthjj",
            domain: DataDomain::Environment,
            frequency: UpdateFrequency::Monthly,
            source_system: "生态环境监测数据平台",
            standard: "HJ 633-2012 环境空气质量指数（AQI）技术规定",
            schema: schema(
                "env_quality_monthly",
                vec![
                    f("month", "月份", Date, G1, NoPi).key(),
                    f("district", "区县", Text, G1, NoPi).key(),
                    f("pm25", "PM2.5月均浓度", Float64, G1, NoPi).unit("μg/m³"),
                    f("pm10", "PM10月均浓度", Float64, G1, NoPi).unit("μg/m³"),
                    f("o3", "O3日最大8小时平均第90百分位", Float64, G1, NoPi).unit("μg/m³"),
                    f("good_days", "优良天数", Int64, G1, NoPi).unit("天"),
                ],
            ),
        },
        PilotResource {
            key: "key_industries",
            name: "陶瓷、航空、精细化工和医药产业",
            name_en: "Ceramics, aviation, fine chemicals and pharmaceuticals",
            description: "重点产业企业年度经营数据；企业经营数据属商业信息（一般3级）。",
            owner_username: "gxj",
            domain: DataDomain::Industry,
            frequency: UpdateFrequency::Yearly,
            source_system: "工业经济运行监测平台",
            standard: "GB/T 4754-2017 国民经济行业分类",
            schema: schema(
                "key_industries",
                vec![
                    f("credit_code", "统一社会信用代码", Text, G1, NoPi).key(),
                    f("year", "年度", Int64, G1, NoPi).key(),
                    f("industry", "产业", Text, G1, NoPi),
                    f("output_value", "工业总产值", Fen, G3, NoPi).unit("分"),
                    f("employees", "从业人员", Int64, G2, NoPi).unit("人"),
                    f("rd_spend", "研发投入", Fen, G3, NoPi).unit("分"),
                    f("export_value", "出口交货值", Fen, G3, NoPi).unit("分"),
                ],
            ),
        },
    ]
}

// ---------------------------------------------------------------------------
// Randomness and entities.

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A small deterministic generator (splitmix64 stream).
struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: &str, index: u64) -> Self {
        let mut s = splitmix(seed);
        for b in stream.bytes() {
            s = splitmix(s ^ u64::from(b));
        }
        Self(splitmix(s ^ index.wrapping_mul(0xA24B_AED4_963E_E407)))
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        splitmix(self.0)
    }
    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n.max(1))) >> 64) as u64
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
    /// Roughly normal (sum of uniforms), clamped.
    fn normal(&mut self, mean: f64, sd: f64, lo: f64, hi: f64) -> f64 {
        let s: f64 = (0..4).map(|_| self.unit()).sum::<f64>() - 2.0;
        (mean + s * sd * 1.732).clamp(lo, hi)
    }
    /// Log-normal-ish positive amount around `median`.
    fn skewed(&mut self, median: f64) -> f64 {
        median * (self.normal(0.0, 1.0, -3.0, 4.0)).exp()
    }
}

/// An affine bijection of `0..n`: `i ↦ (a·i + b) mod n`.
fn permute(i: u64, n: u64, seed: u64) -> u64 {
    let mut a = (splitmix(seed) % n.max(2)) | 1;
    while gcd(a, n) != 1 {
        a += 2;
    }
    let b = splitmix(seed ^ 0x5555) % n.max(1);
    ((u128::from(a) * u128::from(i % n) + u128::from(b)) % u128::from(n)) as u64
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

const CREDIT_ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

const INDUSTRIES: [(&str, u32); 10] = [
    ("陶瓷", 22),
    ("航空", 4),
    ("精细化工", 6),
    ("医药", 6),
    ("医疗", 8),
    ("建筑", 12),
    ("运输", 10),
    ("商贸", 18),
    ("科技", 8),
    ("文旅", 6),
];

struct Enterprise {
    code: String,
    name: String,
    district: usize,
    industry: &'static str,
}

fn enterprise_count(scale: f64) -> u64 {
    ((ENTERPRISES * scale).round() as u64).max(1)
}

fn person_count(scale: f64) -> u64 {
    ((PERSONS * scale).round() as u64).max(1)
}

fn enterprise(seed: u64, i: u64) -> Enterprise {
    let mut r = Rng::new(seed, "enterprise", i);
    let district = r.below(4) as usize;
    let total: u32 = INDUSTRIES.iter().map(|x| x.1).sum();
    let mut t = r.below(u64::from(total)) as u32;
    let mut industry = INDUSTRIES[0].0;
    for (name, w) in INDUSTRIES {
        if t < w {
            industry = name;
            break;
        }
        t -= w;
    }
    let mut body = permute(i, 31u64.pow(9), seed ^ 0xC0DE);
    let mut code = format!("91{}", DISTRICTS[district].0);
    let mut chars = [0u8; 9];
    for c in chars.iter_mut().rev() {
        *c = CREDIT_ALPHABET[(body % 31) as usize];
        body /= 31;
    }
    code.push_str(std::str::from_utf8(&chars).unwrap_or("000000000"));
    code.push(CreditCode::check_char(&code).unwrap_or('0'));
    let word = |r: &mut Rng| r.pick(&WORDS);
    let name = match industry {
        "医疗" => format!(
            "景德镇{}{}医院",
            word(&mut r),
            r.pick(&["仁爱", "康复", "中医", "妇幼", "骨科", "口腔", "眼科"])
        ),
        "陶瓷" => format!("景德镇市{}{}陶瓷有限公司", word(&mut r), word(&mut r)),
        other => format!("景德镇{}{}{}有限公司", word(&mut r), word(&mut r), other),
    };
    Enterprise {
        code,
        name,
        district,
        industry,
    }
}

/// A valid-format credit code that belongs to no generated enterprise
/// (an out-of-town company): organisation prefix 92 never used above.
fn outside_code(r: &mut Rng) -> String {
    let mut code = String::from("91360100");
    for _ in 0..9 {
        code.push(r.pick(CREDIT_ALPHABET) as char);
    }
    code.push(CreditCode::check_char(&code).unwrap_or('0'));
    code
}

const WORDS: [&str; 24] = [
    "瓷都", "昌南", "浮梁", "珠山", "昌江", "乐平", "高岭", "瑶里", "陶阳", "御窑", "新昌", "天宝",
    "金鼎", "华瓷", "青花", "玲珑", "东风", "红星", "长虹", "恒达", "宏远", "景发", "凤凰", "三宝",
];
const SURNAMES: [&str; 40] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾",
    "肖", "田", "董", "袁", "潘", "于", "蒋", "余",
];
const GIVEN: [&str; 48] = [
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀", "霞", "平", "刚", "桂", "英", "华", "文", "辉", "建", "国", "红", "玉", "兰", "春",
    "海", "燕", "鹏", "飞", "欣", "怡", "浩", "宇", "晨", "瑶", "婷", "琳", "斌", "鑫", "凯", "琴",
];

struct Person {
    id: String,
    name: String,
    district: usize,
    phone: String,
}

/// Birth dates 1950-01-01..=2004-12-31.
fn birth_range() -> (i64, i64) {
    (days_from_civil(1950, 1, 1), days_from_civil(2004, 12, 31))
}

fn person(seed: u64, i: u64) -> Person {
    let (lo, hi) = birth_range();
    let days = (hi - lo + 1) as u64;
    let slots = 4 * days * 100;
    let slot = permute(i, slots, seed ^ 0x1D);
    let district = (slot % 4) as usize;
    let day = lo + ((slot / 4) % days) as i64;
    let seq = 900 + slot / (4 * days);
    let (y, m, d) = civil_from_days(day);
    let first17 = format!("{}{y:04}{m:02}{d:02}{seq:03}", DISTRICTS[district].0);
    let check = ResidentId::check_char(&first17).unwrap_or('0');
    let mut r = Rng::new(seed, "person", i);
    let mut name = r.pick(&SURNAMES).to_string();
    name.push_str(r.pick(&GIVEN));
    if r.chance(0.7) {
        name.push_str(r.pick(&GIVEN));
    }
    let phone = format!(
        "1{}{:08}",
        r.pick(&[
            "38", "39", "58", "59", "87", "88", "35", "36", "50", "51", "77", "80", "99"
        ]),
        r.below(100_000_000)
    );
    Person {
        id: format!("{first17}{check}"),
        name,
        district,
        phone,
    }
}

// ---------------------------------------------------------------------------
// CSV output.

struct Out<'a, W: Write> {
    w: io::BufWriter<&'a mut W>,
    rows: u64,
    line: String,
}

impl<'a, W: Write> Out<'a, W> {
    fn new(w: &'a mut W, header: &Schema) -> io::Result<Self> {
        let mut o = Self {
            w: io::BufWriter::with_capacity(1 << 16, w),
            rows: 0,
            line: String::new(),
        };
        let names: Vec<&str> = header.fields().iter().map(|f| f.name.as_str()).collect();
        writeln!(o.w, "{}", names.join(","))?;
        Ok(o)
    }

    fn cell(&mut self, v: &str) -> &mut Self {
        if !self.line.is_empty() {
            self.line.push(',');
        }
        if v.contains([',', '"', '\n', '\r']) {
            self.line.push('"');
            self.line.push_str(&v.replace('"', "\"\""));
            self.line.push('"');
        } else {
            self.line.push_str(v);
        }
        self
    }

    fn end(&mut self) -> io::Result<()> {
        self.line.push('\n');
        self.w.write_all(self.line.as_bytes())?;
        self.line.clear();
        self.rows += 1;
        Ok(())
    }

    fn finish(mut self) -> io::Result<u64> {
        self.w.flush()?;
        Ok(self.rows)
    }
}

fn date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Beijing time `YYYY-MM-DD HH:MM:SS` of `days` plus `secs`.
fn datetime(days: i64, secs: i64) -> String {
    let days = days + secs.div_euclid(86_400);
    let s = secs.rem_euclid(86_400);
    format!(
        "{} {:02}:{:02}:{:02}",
        date(days),
        s / 3600,
        (s / 60) % 60,
        s % 60
    )
}

fn scaled(n: f64, scale: f64) -> u64 {
    ((n * scale).round() as u64).max(1)
}

fn yuan_to_fen(yuan: f64) -> String {
    ((yuan * 100.0).round() as i64).to_string()
}

/// The quality rules a careful department sets for a pilot resource:
/// check-digit formats on identifiers, code lists and plausible ranges,
/// filled-in optional fields, date order, and timeliness.
pub fn quality_rules(pr: &PilotResource) -> Vec<shuyun_domain::quality::Rule> {
    use shuyun_domain::quality::{Bound, Check, CompareOp, Format, Rule};
    let has = |n: &str| pr.schema.field(n);
    let rule = |check, weight| Rule { check, weight };
    let mut rules = Vec::new();
    for (field, format) in [
        ("credit_code", Format::CreditCode),
        ("id_number", Format::ResidentId),
        ("driver_id_number", Format::ResidentId),
        ("driver_phone", Format::Mobile),
    ] {
        if let Some(f) = has(field).filter(|f| f.field_type == FieldType::String) {
            rules.push(rule(
                Check::Format {
                    field: f.name.clone(),
                    format,
                },
                5,
            ));
        }
    }
    if let Some(f) = has("district").filter(|f| f.field_type == FieldType::String) {
        let values = DISTRICTS.iter().map(|d| d.1.to_string()).collect();
        rules.push(rule(
            Check::CodeList {
                field: f.name.clone(),
                values,
            },
            2,
        ));
    }
    if let Some(f) = has("credit_level") {
        let values = ["AAA", "AA", "A", "B", "C", "D"].map(String::from).to_vec();
        rules.push(rule(
            Check::CodeList {
                field: f.name.clone(),
                values,
            },
            2,
        ));
    }
    for (field, lo, hi) in [
        ("credit_score", 0.0, 1000.0),
        ("longitude", 116.5, 118.0),
        ("latitude", 28.7, 29.9),
        ("pm25", 0.0, 500.0),
        ("pm10", 0.0, 600.0),
        ("good_days", 0.0, 31.0),
        ("employees", 0.0, 1_000_000.0),
    ] {
        if let Some(f) =
            has(field).filter(|f| matches!(f.field_type, FieldType::Int64 | FieldType::Float64))
        {
            let (min, max) = (Some(Bound::Number(lo)), Some(Bound::Number(hi)));
            rules.push(rule(
                Check::Range {
                    field: f.name.clone(),
                    min,
                    max,
                },
                1,
            ));
        }
    }
    for (later, earlier) in [("planned_completion", "start_date")] {
        if let (Some(l), Some(e)) = (has(later), has(earlier)) {
            let check = Check::Compare {
                left: l.name.clone(),
                op: CompareOp::Ge,
                right: e.name.clone(),
            };
            rules.push(rule(check, 1));
        }
    }
    // Empty by design, not by neglect: individual applicants have no credit
    // code, open cases no completion, the first year no growth rate.
    const EMPTY_BY_DESIGN: [&str; 5] = [
        "applicant_credit_code",
        "completed_at",
        "within_deadline",
        "yoy_pct",
        "planned_completion",
    ];
    for f in pr
        .schema
        .fields()
        .iter()
        .filter(|f| f.nullable && !EMPTY_BY_DESIGN.contains(&f.name.as_str()))
    {
        rules.push(rule(
            Check::NotEmpty {
                field: f.name.clone(),
            },
            1,
        ));
    }
    rules.push(rule(Check::Fresh { field: None }, 1));
    rules
}

/// Writes the CSV (UTF-8, header of field names) of pilot resource
/// `resource_key`, streaming; returns the number of data rows. `scale`
/// multiplies the default row counts (2,000 persons, 500 enterprises, …).
pub fn generate_csv(
    resource_key: &str,
    scale: f64,
    seed: u64,
    out: &mut impl Write,
) -> io::Result<u64> {
    let res = pilot_resources()
        .into_iter()
        .find(|r| r.key == resource_key)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("no pilot resource '{resource_key}'"),
            )
        })?;
    if !(scale.is_finite() && scale > 0.0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "scale must be positive",
        ));
    }
    let mut o = Out::new(out, &res.schema)?;
    let ents = enterprise_count(scale);
    let persons = person_count(scale);
    let base = days_from_civil(2024, 1, 1);
    match resource_key {
        "person_credit" => {
            for i in 0..persons {
                let p = person(seed, i);
                let mut r = Rng::new(seed, "person_credit", i);
                let score = r.normal(680.0, 60.0, 350.0, 950.0).round() as i64;
                let level = match score {
                    s if s >= 750 => "AAA",
                    s if s >= 700 => "AA",
                    s if s >= 650 => "A",
                    s if s >= 550 => "B",
                    _ => "C",
                };
                let dishonest = score < 500 && r.chance(0.5);
                o.cell(&p.id)
                    .cell(&p.name)
                    .cell(DISTRICTS[p.district].1)
                    .cell(&score.to_string());
                o.cell(level).cell(if dishonest { "是" } else { "否" });
                o.cell(&r.below(40).to_string())
                    .cell(&datetime(base + r.range(0, 180), r.range(0, 86_399)));
                o.end()?;
            }
        }
        "enterprise_credit" => {
            for i in 0..ents {
                let e = enterprise(seed, i);
                let mut r = Rng::new(seed, "enterprise_credit", i);
                let rep = person(seed, r.below(persons));
                let score = r.normal(720.0, 50.0, 400.0, 950.0).round() as i64;
                let level = match score {
                    s if s >= 780 => "A",
                    s if s >= 680 => "B",
                    s if s >= 580 => "C",
                    _ => "D",
                };
                o.cell(&e.code)
                    .cell(&e.name)
                    .cell(&rep.name)
                    .cell(DISTRICTS[e.district].1);
                o.cell(e.industry)
                    .cell(&yuan_to_fen((r.skewed(5.0).round().max(1.0)) * 100_000.0));
                o.cell(&date(days_from_civil(1995, 1, 1) + r.range(0, 10_500)));
                o.cell(&score.to_string())
                    .cell(level)
                    .cell(if r.chance(0.04) { "true" } else { "false" });
                o.end()?;
            }
        }
        "major_projects" => {
            for i in 0..scaled(60.0, scale) {
                let mut r = Rng::new(seed, "major_projects", i);
                let owner = enterprise(seed, r.below(ents));
                let start = base - r.range(0, 1000);
                let cat = r.pick(&["产业项目", "基础设施", "社会民生", "生态环保", "文化旅游"]);
                o.cell(&format!(
                    "2024-360200-{:02}-01-{:06}",
                    r.range(10, 99),
                    i + 1
                ));
                o.cell(&format!(
                    "{}{}{}项目",
                    owner.name.trim_end_matches("有限公司"),
                    r.pick(&["二期", "扩建", "新建", "改造"]),
                    cat
                ));
                o.cell(&owner.code)
                    .cell(DISTRICTS[r.below(4) as usize].1)
                    .cell(cat);
                o.cell(&yuan_to_fen(r.skewed(3.0e8).round()))
                    .cell(&date(start));
                let done = r.chance(0.8);
                o.cell(&if done {
                    date(start + r.range(365, 1500))
                } else {
                    String::new()
                });
                o.cell(r.pick(&["前期", "在建", "在建", "竣工"]));
                o.end()?;
            }
        }
        "construction_projects" => {
            let contractors: Vec<u64> = (0..ents)
                .filter(|&i| enterprise(seed, i).industry == "建筑")
                .collect();
            for i in 0..scaled(300.0, scale) {
                let mut r = Rng::new(seed, "construction_projects", i);
                // 95% of builders are local enterprises, the rest from elsewhere.
                let builder = if r.chance(0.95) {
                    enterprise(seed, r.below(ents)).code
                } else {
                    outside_code(&mut r)
                };
                let contractor = match contractors.len() {
                    0 => outside_code(&mut r),
                    n => enterprise(seed, contractors[r.below(n as u64) as usize]).code,
                };
                let d = r.below(4) as usize;
                let permit = base - r.range(0, 1400);
                let (y, _, _) = civil_from_days(permit);
                o.cell(&format!("{}{}{:06}", DISTRICTS[d].0, y, i + 1));
                o.cell(&format!(
                    "{}{}{}",
                    r.pick(&WORDS),
                    r.pick(&["花园", "厂房", "综合楼", "学校", "安置房", "物流园"]),
                    r.pick(&["一期", "二期", "工程"])
                ));
                o.cell(&builder).cell(&contractor).cell(DISTRICTS[d].1);
                let area = (r.skewed(12_000.0) * 100.0).round() / 100.0;
                o.cell(&area.to_string())
                    .cell(&yuan_to_fen((area * r.range(2000, 4500) as f64).round()));
                o.cell(&date(permit))
                    .cell(r.pick(&["在建", "在建", "竣工验收", "停工"]));
                o.end()?;
            }
        }
        "industry_stats" => {
            let months = scaled(24.0, scale);
            let inds = ["陶瓷", "航空", "精细化工", "医药"];
            let indicators = [
                ("规上企业数", "个", 60.0),
                ("工业总产值", "亿元", 30.0),
                ("营业收入", "亿元", 28.0),
                ("利润总额", "亿元", 2.5),
                ("从业人员", "万人", 3.0),
            ];
            for m in 0..months {
                let (y, mo) = (2022 + (m / 12) as i64, (m % 12) as u32 + 1);
                for (k, ind) in inds.iter().enumerate() {
                    for (j, (name, unit, base_v)) in indicators.iter().enumerate() {
                        let mut r =
                            Rng::new(seed, "industry_stats", (m * 4 + k as u64) * 8 + j as u64);
                        let factor = [1.0, 0.35, 0.5, 0.45][k];
                        let v = base_v
                            * factor
                            * (1.0 + 0.004 * m as f64)
                            * r.normal(1.0, 0.05, 0.7, 1.3);
                        let v = if *unit == "个" {
                            v.round()
                        } else {
                            (v * 100.0).round() / 100.0
                        };
                        o.cell(&date(days_from_civil(y, mo, 1)))
                            .cell(ind)
                            .cell(name)
                            .cell(&v.to_string())
                            .cell(unit);
                        o.cell(&if m < 12 {
                            String::new()
                        } else {
                            format!("{:.1}", r.normal(5.0, 4.0, -20.0, 30.0))
                        });
                        o.end()?;
                    }
                }
            }
        }
        "vehicles" => {
            let operators: Vec<u64> = (0..ents)
                .filter(|&i| enterprise(seed, i).industry == "运输")
                .collect();
            for i in 0..scaled(800.0, scale) {
                let mut r = Rng::new(seed, "vehicles", i);
                let kind = r.pick(&["出租车", "网约车", "网约车", "货运车", "货运车"]);
                let op = match operators.len() {
                    0 => outside_code(&mut r),
                    n => enterprise(seed, operators[r.below(n as u64) as usize]).code,
                };
                let driver = person(seed, r.below(persons));
                let letters = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
                // 赣H is Jingdezhen; the body encodes the index so plates are unique.
                let mut body = permute(i, 24 * 100_000, seed ^ 0xCA5);
                let plate = format!("赣H{}{:05}", letters[(body / 100_000) as usize] as char, {
                    body %= 100_000;
                    body
                });
                o.cell(&plate)
                    .cell(kind)
                    .cell(&op)
                    .cell(&driver.id)
                    .cell(&driver.name)
                    .cell(&driver.phone);
                o.cell(&date(base - r.range(0, 3000))).cell(r.pick(&[
                    "汽油",
                    "纯电动",
                    "纯电动",
                    "柴油",
                    "天然气",
                ]));
                if kind == "货运车" {
                    o.cell("")
                        .cell(&format!("{:.1}", r.normal(8.0, 5.0, 1.5, 40.0)));
                } else {
                    o.cell(r.pick(&["5", "5", "7"])).cell("");
                }
                o.end()?;
            }
        }
        "culture_venues" => {
            for i in 0..scaled(40.0, scale) {
                let mut r = Rng::new(seed, "culture_venues", i);
                let kind = r.pick(&[
                    "博物馆",
                    "图书馆",
                    "文化馆",
                    "美术馆",
                    "纪念馆",
                    "陶瓷博物馆",
                ]);
                let d = r.below(4) as usize;
                o.cell(&format!("WL{:06}", i + 1))
                    .cell(&format!("{}{}{}", DISTRICTS[d].1, r.pick(&WORDS), kind))
                    .cell(kind)
                    .cell(DISTRICTS[d].1);
                o.cell(&format!("{:.6}", 117.18 + r.normal(0.0, 0.08, -0.4, 0.4)));
                o.cell(&format!("{:.6}", 29.27 + r.normal(0.0, 0.06, -0.3, 0.3)));
                o.cell(&(r.skewed(60_000.0).round() as i64).to_string())
                    .cell(if r.chance(0.85) { "1" } else { "0" });
                o.end()?;
            }
        }
        "medical_institutions" => {
            for i in 0..ents {
                let e = enterprise(seed, i);
                if e.industry != "医疗" {
                    continue;
                }
                let mut r = Rng::new(seed, "medical_institutions", i);
                let beds = r.skewed(150.0).round().max(10.0) as i64;
                let level = match beds {
                    b if b >= 500 => "三级甲等",
                    b if b >= 200 => "二级甲等",
                    b if b >= 60 => "二级乙等",
                    _ => "一级",
                };
                for year in 2022..=2024 {
                    let visits =
                        (beds as f64 * r.normal(900.0, 200.0, 200.0, 2000.0)).round() as i64;
                    o.cell(&e.code)
                        .cell(&year.to_string())
                        .cell(&e.name)
                        .cell(level)
                        .cell(DISTRICTS[e.district].1);
                    o.cell(&beds.to_string())
                        .cell(&visits.to_string())
                        .cell(&yuan_to_fen(
                            visits as f64 * r.normal(320.0, 60.0, 100.0, 800.0),
                        ));
                    o.end()?;
                }
            }
        }
        "urban_cases" => {
            for i in 0..scaled(1500.0, scale) {
                let mut r = Rng::new(seed, "urban_cases", i);
                let day = base + r.range(0, 365);
                let at = r.range(6 * 3600, 22 * 3600);
                o.cell(&format!("CG{}{:07}", date(day).replace('-', ""), i + 1));
                o.cell(r.pick(&["监督员巡查", "12345转办", "视频巡查", "公众举报"]));
                o.cell(r.pick(&[
                    "占道经营",
                    "暴露垃圾",
                    "井盖破损",
                    "违章停车",
                    "乱贴广告",
                    "道路破损",
                    "路灯不亮",
                ]));
                o.cell(DISTRICTS[r.below(4) as usize].1)
                    .cell(&datetime(day, at));
                if r.chance(0.9) {
                    o.cell(&datetime(day, at + r.range(1800, 5 * 86_400)))
                        .cell("已结案");
                } else {
                    o.cell("").cell("处置中");
                }
                o.end()?;
            }
        }
        "public_facilities" => {
            for i in 0..scaled(600.0, scale) {
                let mut r = Rng::new(seed, "public_facilities", i);
                let d = r.below(4) as usize;
                let (kind, code) = r.pick(&[
                    ("路灯", "0501"),
                    ("井盖", "0101"),
                    ("公厕", "0401"),
                    ("垃圾转运站", "0407"),
                    ("消防栓", "0108"),
                ]);
                o.cell(&format!("{}{code}{:06}", DISTRICTS[d].0, i + 1))
                    .cell(kind)
                    .cell(DISTRICTS[d].1);
                o.cell(&format!("{:.6}", 117.18 + r.normal(0.0, 0.1, -0.5, 0.5)));
                o.cell(&format!("{:.6}", 29.27 + r.normal(0.0, 0.08, -0.4, 0.4)));
                o.cell(&date(base - r.range(0, 7000)))
                    .cell(r.pick(&["完好", "完好", "完好", "破损", "丢失"]));
                o.end()?;
            }
        }
        "gov_service_cases" => {
            for i in 0..scaled(3000.0, scale) {
                let mut r = Rng::new(seed, "gov_service_cases", i);
                let legal = r.chance(0.45);
                let day = base + r.range(0, 365);
                let at = r.range(8 * 3600 + 1800, 17 * 3600);
                o.cell(&format!("ZW{}{:08}", date(day).replace('-', ""), i + 1));
                o.cell(if legal {
                    r.pick(&[
                        "企业开办",
                        "建设工程施工许可",
                        "食品经营许可",
                        "排水许可",
                        "户外广告设置审批",
                    ])
                } else {
                    r.pick(&[
                        "社保卡申领",
                        "居住证办理",
                        "不动产登记",
                        "公积金提取",
                        "生育登记",
                    ])
                });
                o.cell(if legal { "法人" } else { "自然人" });
                o.cell(&if legal {
                    enterprise(seed, r.below(ents)).code
                } else {
                    String::new()
                });
                o.cell(r.pick(&["窗口", "赣服通", "网上办", "自助终端"]))
                    .cell(&datetime(day, at));
                if r.chance(0.93) {
                    let secs = r.range(600, 12 * 86_400);
                    o.cell(&datetime(day, at + secs))
                        .cell(if secs <= 5 * 86_400 { "true" } else { "false" });
                } else {
                    o.cell("").cell("");
                }
                o.end()?;
            }
        }
        "complaints_12345" => {
            for i in 0..scaled(1000.0, scale) {
                let mut r = Rng::new(seed, "complaints_12345", i);
                let caller = person(seed, r.below(persons));
                let day = base + r.range(0, 365);
                let cat = r.pick(&[
                    "噪音扰民",
                    "物业管理",
                    "道路交通",
                    "环境污染",
                    "市场监管",
                    "供水供电",
                    "教育",
                    "医疗卫生",
                ]);
                o.cell(&format!("12345{}{:06}", date(day).replace('-', ""), i + 1));
                o.cell(&if r.chance(0.6) {
                    caller.id.clone()
                } else {
                    String::new()
                })
                .cell(&caller.phone);
                o.cell(cat).cell(DISTRICTS[caller.district].1);
                o.cell(&format!(
                    "来电反映{}{}问题，希望尽快处理。",
                    r.pick(&WORDS),
                    cat
                ));
                o.cell(&datetime(day, r.range(0, 86_399)));
                o.cell(match r.below(5) {
                    0 => "",
                    1 => "否",
                    _ => "是",
                });
                o.end()?;
            }
        }
        "env_quality_monthly" => {
            for m in 0..scaled(36.0, scale) {
                let (y, mo) = (2022 + (m / 12) as i64, (m % 12) as u32 + 1);
                for (d, (_, name)) in DISTRICTS.iter().enumerate() {
                    let mut r = Rng::new(seed, "env_quality_monthly", m * 4 + d as u64);
                    // Winter peaks for particulates, summer for ozone.
                    let winter = (((mo as f64) - 1.0) / 12.0 * std::f64::consts::TAU).cos();
                    let pm25 = (32.0 + 14.0 * winter + r.normal(0.0, 4.0, -10.0, 10.0)).max(5.0);
                    let pm10 = pm25 * r.normal(1.65, 0.1, 1.3, 2.1);
                    let o3 = (130.0 - 30.0 * winter + r.normal(0.0, 8.0, -25.0, 25.0)).max(40.0);
                    let dim = i64::from(match mo {
                        2 => 28,
                        4 | 6 | 9 | 11 => 30,
                        _ => 31,
                    });
                    let good = (dim as f64 * (1.0 - (pm25 - 20.0).max(0.0) / 120.0)).round() as i64;
                    o.cell(&date(days_from_civil(y, mo, 1))).cell(name);
                    o.cell(&format!("{pm25:.1}"))
                        .cell(&format!("{pm10:.1}"))
                        .cell(&format!("{o3:.1}"));
                    o.cell(&good.clamp(0, dim).to_string());
                    o.end()?;
                }
            }
        }
        "key_industries" => {
            for i in 0..ents {
                let e = enterprise(seed, i);
                if !matches!(e.industry, "陶瓷" | "航空" | "精细化工" | "医药") {
                    continue;
                }
                let mut r = Rng::new(seed, "key_industries", i);
                let size = r.skewed(8.0e7);
                for (k, year) in (2022..=2024).enumerate() {
                    let output = size * (1.0 + 0.06 * k as f64) * r.normal(1.0, 0.05, 0.8, 1.2);
                    o.cell(&e.code)
                        .cell(&year.to_string())
                        .cell(e.industry)
                        .cell(&yuan_to_fen(output.round()));
                    o.cell(&((output / 600_000.0).round().max(3.0) as i64).to_string());
                    o.cell(&yuan_to_fen(
                        (output * r.normal(0.03, 0.01, 0.0, 0.1)).round(),
                    ));
                    o.cell(&yuan_to_fen(
                        (output * r.normal(0.15, 0.1, 0.0, 0.6)).round(),
                    ));
                    o.end()?;
                }
            }
        }
        other => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("no generator for '{other}'"),
            ));
        }
    }
    o.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pilot_schemas_are_valid_and_cover_ten_departments() {
        let rs = pilot_resources();
        assert_eq!(rs.len(), 14);
        let mut owners: Vec<&str> = rs.iter().map(|r| r.owner_username).collect();
        owners.sort_unstable();
        owners.dedup();
        assert_eq!(
            owners,
            [
                "cgj", "fgw", "gxj", "jtj", "sthjj", "tjj", "wjw", "wlj", "zjj", "zwj"
            ]
        );
        for r in &rs {
            assert!(r.schema.key_fields().count() > 0, "{}", r.key);
            assert!(r.schema.min_resource_grade() < Grade::Core);
        }
    }

    #[test]
    fn quality_rules_fit_every_pilot_schema() {
        for pr in pilot_resources() {
            let rules = quality_rules(&pr);
            assert!(
                matches!(rules.last(), Some(r) if r.check == shuyun_domain::quality::Check::Fresh { field: None }),
                "{}: timeliness is always measured",
                pr.key
            );
            shuyun_domain::quality::RuleSet::new(rules, &pr.schema)
                .unwrap_or_else(|e| panic!("{}: {}", pr.key, e.message));
        }
    }

    #[test]
    fn identifiers_are_valid_and_unique() {
        let mut codes = std::collections::HashSet::new();
        for i in 0..5000 {
            let e = enterprise(7, i);
            assert!(e.code.parse::<CreditCode>().is_ok(), "{}", e.code);
            assert!(codes.insert(e.code));
        }
        let mut ids = std::collections::HashSet::new();
        for i in 0..5000 {
            let p = person(7, i);
            assert!(p.id.parse::<ResidentId>().is_ok(), "{}", p.id);
            assert!(p.id[14..17] >= *"900");
            assert!(ids.insert(p.id));
        }
    }
}
