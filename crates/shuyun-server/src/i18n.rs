//! Portal texts: Chinese first, English on request (`/lang/en`, cookie `lang`).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn from_cookie(v: Option<&str>) -> Self {
        match v {
            Some("en") => Lang::En,
            _ => Lang::Zh,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }
}

/// (key, Chinese, English)
const TEXTS: &[(&str, &str, &str)] = &[
    (
        "app.name",
        "数运 · 公共数据授权运营平台",
        "shuyun · Public Data Authorized Operation Platform",
    ),
    (
        "app.tagline",
        "原始数据不出域，数据可用不可见",
        "Raw data never leaves the domain: usable, never visible",
    ),
    ("nav.home", "首页", "Home"),
    ("nav.orgs", "组织机构", "Organisations"),
    ("nav.users", "用户", "Users"),
    ("nav.ledger", "存证账本", "Ledger"),
    ("nav.account", "我的账户", "My account"),
    ("nav.login", "登录", "Sign in"),
    ("nav.logout", "退出", "Sign out"),
    ("login.title", "登录", "Sign in"),
    ("login.username", "用户名", "User name"),
    ("login.password", "密码", "Password"),
    ("login.submit", "登录", "Sign in"),
    (
        "login.failed",
        "用户名或密码错误",
        "Wrong user name or password",
    ),
    ("home.welcome", "欢迎", "Welcome"),
    ("home.org", "所属单位", "Organisation"),
    ("home.role", "角色", "Role"),
    ("home.duties", "职责", "Responsibilities"),
    ("home.tasks", "工作台", "Workbench"),
    ("home.recent", "我的最近操作", "My recent activity"),
    (
        "home.public_intro",
        "本平台承载公共数据资源授权运营：数据目录、授权运营、安全开发环境、产品登记与交易、全过程存证。",
        "This platform runs the authorized operation of public data: catalogue, authorization, a secure development environment, product registration and trading, and a tamper-evident record of everything.",
    ),
    (
        "home.checkpoint",
        "最新签名检查点",
        "Latest signed checkpoint",
    ),
    (
        "home.must_change",
        "请先修改初始密码。",
        "Please change your initial password first.",
    ),
    ("role.data_authority", "数据主管部门", "Data authority"),
    (
        "role.implementing_institution",
        "实施机构",
        "Implementing institution",
    ),
    ("role.source_department", "数源部门", "Source department"),
    ("role.operator", "运营机构", "Operator"),
    ("role.buyer", "需求方", "Buyer"),
    ("role.regulator", "监管部门", "Regulator"),
    (
        "role.platform_admin",
        "平台管理员",
        "Platform administrator",
    ),
    (
        "duty.data_authority",
        "审批实施方案，管理负面清单，备案与监督，信息公开。",
        "Approves plans, keeps the negative list, files and supervises, discloses.",
    ),
    (
        "duty.implementing_institution",
        "组织授权运营：遴选运营机构、签订协议、审核场景与成果出域。",
        "Runs the authorization: selects operators, signs agreements, reviews scenarios and outputs.",
    ),
    (
        "duty.source_department",
        "登记并提供数据资源，处理数据质量问题。",
        "Registers and supplies data resources, fixes quality problems.",
    ),
    (
        "duty.operator",
        "在安全环境中开发数据产品，登记、定价并提供服务。",
        "Develops data products in the secure environment, registers, prices and sells them.",
    ),
    (
        "duty.buyer",
        "浏览、签约并使用数据产品和服务。",
        "Browses, contracts for and uses data products and services.",
    ),
    (
        "duty.regulator",
        "查阅审计记录与告警，必要时责令暂停。",
        "Reads audit trails and alerts, orders suspensions.",
    ),
    (
        "duty.platform_admin",
        "管理平台的组织机构、用户与令牌。",
        "Administers the platform's organisations, users and tokens.",
    ),
    ("task.orgs", "管理组织机构", "Manage organisations"),
    ("task.orgs_read", "查看组织机构", "View organisations"),
    ("task.users", "管理用户", "Manage users"),
    ("task.users_read", "查看用户", "View users"),
    (
        "task.ledger",
        "查阅存证账本并验证证明",
        "Look up the ledger and verify proofs",
    ),
    (
        "task.account",
        "修改密码、管理 API 令牌",
        "Change password, manage API tokens",
    ),
    ("org.name", "名称", "Name"),
    ("org.name_en", "英文名称", "English name"),
    ("org.kind", "类型", "Kind"),
    (
        "org.credit_code",
        "统一社会信用代码",
        "Unified social credit code",
    ),
    ("org.division_code", "行政区划代码", "Division code"),
    ("org.create", "登记组织机构", "Register an organisation"),
    ("common.state", "状态", "State"),
    ("common.enabled", "正常", "Active"),
    ("common.disabled", "已停用", "Disabled"),
    ("common.disable", "停用", "Disable"),
    ("common.enable", "启用", "Enable"),
    ("common.actions", "操作", "Actions"),
    ("common.created", "创建时间", "Created"),
    ("common.submit", "提交", "Submit"),
    ("common.search", "查询", "Search"),
    ("common.done", "已完成。", "Done."),
    ("common.more", "更早", "Older"),
    ("user.username", "用户名", "User name"),
    ("user.display_name", "姓名", "Name"),
    ("user.org", "单位", "Organisation"),
    ("user.role", "角色", "Role"),
    ("user.create", "新建用户", "Create a user"),
    ("user.initial_password", "初始密码", "Initial password"),
    ("user.reset", "重置密码", "Reset password"),
    (
        "user.temp_password",
        "临时密码（仅显示一次）",
        "Temporary password (shown once)",
    ),
    ("account.password", "修改密码", "Change password"),
    ("account.current", "当前密码", "Current password"),
    ("account.new", "新密码", "New password"),
    ("account.tokens", "API 令牌", "API tokens"),
    ("account.token_name", "用途", "Purpose"),
    ("account.token_days", "有效天数", "Valid days"),
    (
        "account.token_scopes",
        "权限范围（不选则为全部）",
        "Scopes (none = all)",
    ),
    ("account.issue", "签发令牌", "Issue token"),
    (
        "account.new_token",
        "新令牌（仅显示一次，请妥善保存）",
        "New token (shown once; keep it safe)",
    ),
    ("account.revoke", "吊销", "Revoke"),
    ("account.expires", "到期", "Expires"),
    ("account.revoked", "已吊销", "Revoked"),
    ("account.prefix", "前缀", "Prefix"),
    ("ledger.title", "存证账本", "Ledger"),
    ("ledger.size", "条目数", "Entries"),
    ("ledger.root", "根哈希 (SM3)", "Root hash (SM3)"),
    (
        "ledger.key",
        "平台验证公钥 (SM2)",
        "Platform verifier key (SM2)",
    ),
    ("ledger.index", "序号", "Index"),
    ("ledger.time", "时间", "Time"),
    ("ledger.actor", "操作者", "Actor"),
    ("ledger.action", "操作", "Action"),
    ("ledger.object", "对象", "Object"),
    ("ledger.detail", "详情", "Detail"),
    ("ledger.goto", "按序号查看", "Go to index"),
    ("ledger.entry", "存证条目", "Ledger entry"),
    ("ledger.leaf", "叶子哈希", "Leaf hash"),
    ("ledger.leaf_data", "叶子数据", "Leaf data"),
    (
        "ledger.proof",
        "包含证明（审计路径）",
        "Inclusion proof (audit path)",
    ),
    ("ledger.checkpoint", "签名检查点", "Signed checkpoint"),
    (
        "ledger.verified",
        "已验证：条目内容、包含证明与 SM2 签名均有效",
        "Verified: entry content, inclusion proof and SM2 signature are all valid",
    ),
    (
        "ledger.not_verified",
        "验证失败：条目或证明与签名检查点不符",
        "Verification failed: the entry or proof does not match the signed checkpoint",
    ),
    ("nav.catalogue", "资源目录", "Catalogue"),
    ("nav.negative", "负面清单", "Negative list"),
    (
        "cat.title",
        "公共数据资源目录",
        "Public data resource catalogue",
    ),
    ("cat.code", "资源标识", "Identifier"),
    ("cat.name", "资源名称", "Resource"),
    ("cat.owner", "数源部门", "Source department"),
    ("cat.domain", "领域", "Domain"),
    ("cat.grade", "分级", "Grade"),
    ("cat.frequency", "更新频率", "Update frequency"),
    ("cat.status", "状态", "Status"),
    ("cat.pending", "分级待确认", "Grading awaits confirmation"),
    ("cat.on_negative", "已列入负面清单", "On the negative list"),
    ("cat.public", "公开目录", "Public catalogue"),
    ("cat.open", "开放数据", "Open data"),
    (
        "cat.open_hint",
        "（仅一般数据；公众可下载当前版本）",
        "(general grades only; the public may download the current version)",
    ),
    ("cat.register", "登记资源", "Register a resource"),
    ("cat.description", "资源描述", "Description"),
    ("cat.source_system", "来源系统", "Source system"),
    ("cat.standard", "遵循标准", "Standard"),
    ("cat.contact", "联系人", "Contact"),
    ("cat.rights", "三权分置", "Three rights"),
    ("cat.rights_holder", "数据资源持有权", "Holding right"),
    ("cat.rights_processor", "数据加工使用权", "Processing right"),
    ("cat.rights_operator", "数据产品经营权", "Operation right"),
    ("cat.schema", "数据结构与分级", "Schema and grades"),
    ("cat.field_name", "字段名", "Field"),
    ("cat.field_label", "中文名称", "Label"),
    ("cat.field_type", "类型", "Type"),
    ("cat.field_unit", "单位", "Unit"),
    ("cat.field_pi", "个人信息", "Personal information"),
    ("cat.field_key", "主键", "Key"),
    ("cat.field_nullable", "可空", "Nullable"),
    ("cat.basis", "分级依据", "Grading basis"),
    ("cat.impact_object", "影响对象", "Impact object"),
    ("cat.impact_degree", "影响程度", "Impact degree"),
    ("cat.reason", "理由", "Reason"),
    ("cat.gradings", "分级版本", "Grading versions"),
    ("cat.version", "版本", "Version"),
    ("cat.confirm", "确认分级", "Confirm"),
    ("cat.reject", "驳回", "Reject"),
    ("cat.note", "意见", "Note"),
    (
        "cat.request_negative",
        "申请列入负面清单",
        "Ask to keep out of operation",
    ),
    ("cat.legal_basis", "法律依据", "Legal basis"),
    (
        "cat.fields_hint",
        "每行一个字段；留空的行将被忽略。",
        "One field per row; empty rows are ignored.",
    ),
    ("data.versions", "数据版本", "Data versions"),
    ("data.none", "尚未入库数据。", "No data loaded yet."),
    ("data.file", "文件", "File"),
    ("data.rows", "行", "rows"),
    ("data.size", "大小", "Size"),
    ("data.uploaded_at", "入库时间", "Loaded at"),
    ("data.current", "当前版本", "current"),
    ("data.make_current", "设为当前版本", "Make current"),
    ("data.upload", "上传新版本", "Load a new version"),
    (
        "data.upload_hint",
        "支持 CSV（UTF-8 或 GB18030）、JSON Lines 与 Parquet。整批校验：任何一行不符合数据结构，整个文件被驳回，当前版本保持不变。",
        "CSV (UTF-8 or GB18030), JSON Lines or Parquet. The whole file is checked: if any row breaks the schema, the file is rejected and the current version stays as it is.",
    ),
    ("data.format", "文件格式", "Format"),
    ("data.encoding", "字符编码", "Encoding"),
    ("data.enc_auto", "自动识别", "Detect"),
    ("data.upload_submit", "上传并校验", "Upload and check"),
    ("data.rejections", "被驳回的入库", "Rejected loads"),
    ("data.rows_read", "读取行数", "Rows read"),
    ("data.errors", "错误数", "Errors"),
    ("data.report", "下载错误报告", "Download report"),
    (
        "data.no_file",
        "请选择要上传的文件",
        "Choose a file to upload",
    ),
    (
        "data.bad_form",
        "上传表单有误",
        "The upload form is malformed",
    ),
    ("data.loaded", "已入库", "Loaded"),
    (
        "data.rejected",
        "文件被驳回，错误数：",
        "The file was rejected; errors:",
    ),
    (
        "data.unchanged",
        "当前版本未改变，错误报告见下方",
        "the current version is unchanged; see the report below",
    ),
    ("q.score", "质量评分", "Quality score"),
    ("q.history", "质量评分趋势", "Quality scores over time"),
    ("q.rules", "质量规则", "Quality rules"),
    ("q.defaults", "（默认规则）", "(default rules)"),
    ("q.dimension", "质量维度", "Dimension"),
    ("q.rule", "规则", "Rule"),
    ("q.weight", "权重", "Weight"),
    ("q.edit", "修改质量规则", "Edit the quality rules"),
    (
        "q.edit_hint",
        "JSON 数组，每条规则一个对象：check 为 not_empty、unique、range、code_list、format（credit_code、resident_id、division_code、mobile、postal_code）、compare 或 fresh，weight 为权重。",
        "A JSON array, one object per rule: check is not_empty, unique, range, code_list, format (credit_code, resident_id, division_code, mobile, postal_code), compare or fresh; weight is the weight.",
    ),
    ("q.report", "数据质量报告", "Quality report"),
    ("q.checked", "检查数", "Checked"),
    ("q.failed", "不合格", "Failed"),
    ("q.pass", "合格率", "Pass rate"),
    ("q.rows", "问题行号", "Rows to correct"),
    (
        "q.rows_hint",
        "行号为文件中的数据行（不含表头），报告不显示数据值。",
        "Row numbers count data rows of the file (not the header); reports never show values.",
    ),
    ("q.dim.completeness", "完整性", "Completeness"),
    ("q.dim.uniqueness", "唯一性", "Uniqueness"),
    ("q.dim.validity", "有效性", "Validity"),
    ("q.dim.consistency", "一致性", "Consistency"),
    ("q.dim.timeliness", "时效性", "Timeliness"),
    ("nav.tickets", "异议工单", "Tickets"),
    ("tk.title", "异议与纠错工单", "Objections and corrections"),
    (
        "tk.intro",
        "使用数据的单位可对资源或具体记录提出异议或纠错；数源部门须核实并在规定工作日内答复：",
        "Anyone using a resource can object to it or to specific records or ask for a correction; the source department verifies and answers within",
    ),
    ("tk.none", "暂无工单。", "No tickets."),
    ("tk.kind", "类型", "Kind"),
    ("tk.kind.objection", "异议", "Objection"),
    ("tk.kind.correction", "数据纠错", "Correction"),
    ("tk.raiser", "提出单位", "Raised by"),
    ("tk.deadline", "答复期限", "Answer due"),
    ("tk.overdue", "已逾期", "Overdue by"),
    ("tk.remaining", "剩余", "Remaining"),
    ("tk.workdays", "个工作日", "working day(s)"),
    (
        "tk.raise",
        "提出异议或纠错",
        "Raise an objection or correction",
    ),
    ("tk.field", "涉及字段（可选）", "Field concerned (optional)"),
    (
        "tk.records",
        "涉及记录（行号或主键）",
        "Records (row numbers or keys)",
    ),
    (
        "tk.description",
        "问题说明及依据",
        "What is wrong, with evidence",
    ),
    ("tk.outcome", "核实结论", "Finding"),
    ("tk.outcome.corrected", "已更正", "Corrected"),
    ("tk.outcome.unfounded", "异议不成立", "Unfounded"),
    ("tk.steps", "处理记录", "Steps"),
    ("tk.step", "操作", "Step"),
    ("tk.state.open", "待受理", "Open"),
    ("tk.state.verifying", "核实中", "Verifying"),
    ("tk.state.answered", "已答复", "Answered"),
    ("tk.state.closed", "已办结", "Closed"),
    ("tk.state.withdrawn", "已撤回", "Withdrawn"),
    ("tk.action.acknowledge", "受理", "Acknowledge"),
    ("tk.action.answer", "答复", "Answer"),
    ("tk.action.accept", "认可答复", "Accept"),
    ("tk.action.dispute", "不认可，再次申请核实", "Dispute"),
    ("tk.action.withdraw", "撤回", "Withdraw"),
    ("nav.open", "开放数据", "Open data"),
    ("open.title", "开放数据", "Open data"),
    (
        "open.intro",
        "以下一般数据已由数源部门开放，任何人无需登录即可下载当前版本（CSV 可直接用表格软件打开；Parquet 文件的 SM3 哈希与存证账本一致）。",
        "These general-grade resources are opened by their departments: anyone may download the current version without signing in (CSV opens in a spreadsheet; the Parquet file's SM3 hash matches the ledger).",
    ),
    (
        "open.dcat",
        "数据目录 DCAT（JSON-LD）",
        "Catalogue as DCAT (JSON-LD)",
    ),
    ("open.none", "暂无开放数据。", "No open data yet."),
    ("open.download", "下载", "Download"),
    ("open.terms_title", "使用条款", "Terms of use"),
    (
        "open.terms",
        "开放数据可免费获取和使用，使用时应注明数据来源部门，不得用于违法用途，不得尝试重新识别个人或组织。",
        "Open data is free to obtain and use; credit the source department, do not use it unlawfully, and do not try to re-identify people or organisations.",
    ),
    ("neg.title", "负面清单", "Negative list"),
    (
        "neg.published",
        "已发布的负面清单",
        "Published negative list",
    ),
    ("neg.requests", "待审核申请", "Requests awaiting review"),
    ("neg.approve", "批准", "Approve"),
    ("neg.list_version", "清单版本", "List version"),
    ("error.title", "出错了", "Something went wrong"),
    ("error.back", "返回首页", "Back to home"),
];

/// The text for `key` in `lang`; the key itself if unknown (visible in tests).
pub fn t(lang: Lang, key: &str) -> &str {
    TEXTS
        .iter()
        .chain(crate::pages::authorization::texts::TEXTS)
        .find(|(k, _, _)| *k == key)
        .map_or(key, |(_, zh, en)| if lang == Lang::En { en } else { zh })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_unique_and_both_languages_present() {
        let all = || {
            TEXTS
                .iter()
                .chain(crate::pages::authorization::texts::TEXTS)
        };
        let mut keys: Vec<&str> = all().map(|(k, _, _)| *k).collect();
        keys.sort_unstable();
        let n = keys.len();
        keys.dedup();
        assert_eq!(n, keys.len(), "duplicate i18n keys");
        for (k, zh, en) in all() {
            assert!(!zh.is_empty() && !en.is_empty(), "{k}");
        }
        for r in shuyun_domain::Role::ALL {
            assert_ne!(
                t(Lang::Zh, &format!("role.{}", r.as_str())),
                format!("role.{}", r.as_str())
            );
            assert_ne!(
                t(Lang::En, &format!("duty.{}", r.as_str())),
                format!("duty.{}", r.as_str())
            );
        }
    }
}
