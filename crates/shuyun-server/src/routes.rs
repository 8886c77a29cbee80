//! The route table: every route with the permission it needs. The router,
//! the guard, the OpenAPI document and the access-matrix test are all built
//! from this one list, so no route can exist without a declared permission.

use axum::Router;
use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, post, put};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value, json};
use shuyun_domain::Permission;

use crate::auth::{Guard, guard};
use crate::{AppState, api, pages};

/// What kind of caller a route serves; decides how denials look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// JSON under `/api/v1`, documented in OpenAPI.
    Api,
    /// Portal pages (HTML).
    Page,
    /// Health, readiness and metrics (documented in OpenAPI).
    Ops,
}

type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn schema_of<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// One route.
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub perm: Permission,
    pub kind: Kind,
    pub summary: &'static str,
    pub tag: &'static str,
    body: Option<SchemaFn>,
    query: Option<SchemaFn>,
    response: Option<SchemaFn>,
    pub status: u16,
    response_type: &'static str,
    handler: MethodRouter<AppState>,
}

impl Route {
    fn new(
        kind: Kind,
        method: Method,
        path: &'static str,
        perm: Permission,
        handler: MethodRouter<AppState>,
    ) -> Self {
        Self {
            method,
            path,
            perm,
            kind,
            summary: "",
            tag: "",
            body: None,
            query: None,
            response: None,
            status: 200,
            response_type: "application/json",
            handler,
        }
    }
    fn doc(mut self, tag: &'static str, summary: &'static str) -> Self {
        self.tag = tag;
        self.summary = summary;
        self
    }
    fn body<T: JsonSchema>(mut self) -> Self {
        self.body = Some(schema_of::<T>);
        self
    }
    fn query<T: JsonSchema>(mut self) -> Self {
        self.query = Some(schema_of::<T>);
        self
    }
    fn resp<T: JsonSchema>(mut self) -> Self {
        self.response = Some(schema_of::<T>);
        self
    }
    fn status(mut self, s: u16) -> Self {
        self.status = s;
        self
    }
    fn text(mut self) -> Self {
        self.response_type = "text/plain";
        self
    }
    /// A non-JSON response of this media type (a file).
    fn produces(mut self, media_type: &'static str) -> Self {
        self.response_type = media_type;
        self
    }
}

fn api(m: Method, path: &'static str, perm: Permission, h: MethodRouter<AppState>) -> Route {
    Route::new(Kind::Api, m, path, perm, h)
}
fn page(m: Method, path: &'static str, perm: Permission, h: MethodRouter<AppState>) -> Route {
    Route::new(Kind::Page, m, path, perm, h)
}

/// Every route of the platform, one per line.
#[rustfmt::skip]
pub fn table() -> Vec<Route> {
    use Method as M;
    use Permission as P;
    use shuyun_store::data::{DataVersion, Rejection};
    use api::{auth as au, catalogue as cat, data as dt, ledger as lg, orgs, quality as qa, system as sys, tickets as tkt, tokens as tk, users as us, open as op};
    use shuyun_store::quality::{QualityRules, QualityScore, StoredReport};
    use shuyun_store::catalogue::{ConsentRecord, Grading, NegativeEntry, NewGrading, NewResource, Resource};
    use shuyun_store::accounts::{ApiToken, IssuedToken, NewOrg, NewUser, Org, User};
    use shuyun_store::ledger::CheckpointView;
    use shuyun_store::EntryView;
    use api::authorization::{StepNote, agreements as ag_, disclosure as dc_, plans as pl_, selections as sl_};
    use shuyun_store::authorization::disclosure::{AuthorizationDisclosure, PlanDisclosure};
    use shuyun_domain::authorization::{AgreementContent, Decision, PlanContent, ScenarioPlan, SelectionSpec};
    use shuyun_store::authorization::agreements::Scenario;
    use shuyun_store::authorization::exits::Exit;
    use shuyun_domain::authorization::selection::Score;
    use shuyun_store::authorization::selections::{Objection, PanelMember, Selection, SelectionApplication, SelectionDetail};
    use api::workspace as ws_;
    use shuyun_store::workspace::{Alert, Release, StoredQuery};
    use pages::authorization::{agreements as pag, disclosure as pdc, plans as ppl, selections as psl};
    use pages::{account as pa, admin as pd, catalogue as pc, data as pdt, home as ph, ledger as pl, login as pn, open as po, tickets as ptk};
    vec![
        // Operations
        Route::new(Kind::Ops, M::GET, "/healthz", P::Public, get(sys::healthz)).doc("ops", "Liveness").resp::<sys::Health>(),
        Route::new(Kind::Ops, M::GET, "/readyz", P::Public, get(sys::readyz)).doc("ops", "Readiness (database reachable)").resp::<sys::Health>(),
        Route::new(Kind::Ops, M::GET, "/metrics", P::Public, get(sys::metrics)).doc("ops", "Prometheus metrics").text(),
        api(M::GET, "/api/v1/openapi.json", P::Public, get(sys::openapi)).doc("meta", "This OpenAPI document"),
        // Authentication and the caller's own account
        api(M::POST, "/api/v1/auth/login", P::Public, post(au::login)).doc("auth", "Sign in; sets the session cookie").body::<au::LoginRequest>().resp::<au::LoginResponse>(),
        api(M::POST, "/api/v1/auth/logout", P::Authenticated, post(au::logout)).doc("auth", "End the session").status(204),
        api(M::GET, "/api/v1/me", P::Authenticated, get(au::me)).doc("auth", "The caller").resp::<au::Me>(),
        api(M::POST, "/api/v1/me/password", P::Authenticated, post(au::change_password)).doc("auth", "Change one's own password").body::<au::ChangePassword>().status(204),
        api(M::GET, "/api/v1/me/tokens", P::Authenticated, get(tk::list_mine)).doc("tokens", "List my API tokens").resp::<Vec<ApiToken>>(),
        api(M::POST, "/api/v1/me/tokens", P::Authenticated, post(tk::issue_mine)).doc("tokens", "Issue an API token for myself (shown once)").body::<tk::IssueToken>().resp::<IssuedToken>().status(201),
        api(M::DELETE, "/api/v1/me/tokens/{id}", P::Authenticated, delete(tk::revoke_mine)).doc("tokens", "Revoke one of my tokens").resp::<ApiToken>(),
        // Organisations
        api(M::GET, "/api/v1/orgs", P::OrgRead, get(orgs::list)).doc("orgs", "List organisations").resp::<Vec<Org>>(),
        api(M::POST, "/api/v1/orgs", P::OrgAdmin, post(orgs::create)).doc("orgs", "Register an organisation").body::<NewOrg>().resp::<Org>().status(201),
        api(M::GET, "/api/v1/orgs/{id}", P::OrgRead, get(orgs::show)).doc("orgs", "One organisation").resp::<Org>(),
        api(M::POST, "/api/v1/orgs/{id}/disable", P::OrgAdmin, post(orgs::disable)).doc("orgs", "Disable an organisation and end its sessions").resp::<Org>(),
        api(M::POST, "/api/v1/orgs/{id}/enable", P::OrgAdmin, post(orgs::enable)).doc("orgs", "Enable an organisation").resp::<Org>(),
        // Users and their tokens
        api(M::GET, "/api/v1/users", P::UserRead, get(us::list)).doc("users", "List users").query::<us::UserQuery>().resp::<Vec<User>>(),
        api(M::POST, "/api/v1/users", P::UserAdmin, post(us::create)).doc("users", "Create a user (role follows the organisation)").body::<NewUser>().resp::<User>().status(201),
        api(M::GET, "/api/v1/users/{id}", P::UserRead, get(us::show)).doc("users", "One user").resp::<User>(),
        api(M::POST, "/api/v1/users/{id}/disable", P::UserAdmin, post(us::disable)).doc("users", "Disable a user; ends sessions and tokens").resp::<User>(),
        api(M::POST, "/api/v1/users/{id}/enable", P::UserAdmin, post(us::enable)).doc("users", "Enable a user").resp::<User>(),
        api(M::POST, "/api/v1/users/{id}/reset-password", P::UserAdmin, post(us::reset_password)).doc("users", "Reset a password to a one-time temporary one").resp::<us::TempPassword>(),
        api(M::GET, "/api/v1/users/{id}/tokens", P::TokenAdmin, get(tk::list_for)).doc("tokens", "List a user's API tokens").resp::<Vec<ApiToken>>(),
        api(M::POST, "/api/v1/users/{id}/tokens", P::TokenAdmin, post(tk::issue_for)).doc("tokens", "Issue an API token to a user (shown once)").body::<tk::IssueToken>().resp::<IssuedToken>().status(201),
        api(M::DELETE, "/api/v1/tokens/{id}", P::TokenAdmin, delete(tk::revoke_any)).doc("tokens", "Revoke any API token").resp::<ApiToken>(),
        // Ledger
        api(M::GET, "/api/v1/ledger/key", P::Public, get(lg::key)).doc("ledger", "The ledger's public SM2 verifier key").resp::<lg::KeyInfo>(),
        api(M::GET, "/api/v1/ledger/checkpoint", P::Public, get(lg::checkpoint)).doc("ledger", "The latest signed checkpoint").resp::<CheckpointView>(),
        api(M::GET, "/api/v1/ledger/checkpoint.txt", P::Public, get(lg::checkpoint_text)).doc("ledger", "The latest checkpoint as a C2SP signed note").text(),
        api(M::GET, "/api/v1/ledger/entries", P::LedgerRead, get(lg::entries)).doc("ledger", "Entries, newest first").query::<lg::EntryQuery>().resp::<Vec<EntryView>>(),
        api(M::GET, "/api/v1/ledger/entries/{index}", P::LedgerRead, get(lg::entry)).doc("ledger", "One entry with its inclusion proof").resp::<lg::EntryWithProof>(),
        api(M::GET, "/api/v1/ledger/proofs/inclusion", P::LedgerRead, get(lg::inclusion)).doc("ledger", "Inclusion proof of an entry in a checkpointed tree").query::<lg::InclusionQuery>().resp::<lg::InclusionProof>(),
        api(M::GET, "/api/v1/ledger/proofs/consistency", P::Public, get(lg::consistency)).doc("ledger", "Consistency proof between two checkpointed tree sizes").query::<lg::ConsistencyQuery>().resp::<lg::ConsistencyProof>(),
        // Catalogue (A1-A4)
        api(M::GET, "/api/v1/public/resources", P::Public, get(cat::public_list)).doc("catalogue", "The public catalogue").resp::<Vec<Resource>>(),
        api(M::GET, "/api/v1/public/negative-list", P::Public, get(cat::negative_public)).doc("catalogue", "The published negative list").resp::<Vec<NegativeEntry>>(),
        api(M::GET, "/api/v1/public/resources/{id}/download", P::Public, get(op::download)).doc("open data", "Download the current version of an open, general-grade resource (CSV by default, or Parquet)").query::<op::DownloadQuery>().produces("text/csv"),
        api(M::GET, "/api/v1/public/dcat.jsonld", P::Public, get(op::dcat)).doc("open data", "The public catalogue as DCAT (JSON-LD) for harvesting").produces("application/ld+json"),
        api(M::GET, "/api/v1/resources", P::Authenticated, get(cat::list)).doc("catalogue", "The catalogue as the caller may see it").resp::<Vec<Resource>>(),
        api(M::POST, "/api/v1/resources", P::ResourceManage, post(cat::register)).doc("catalogue", "Register a resource of one's department with its schema and grades").body::<NewResource>().resp::<Resource>().status(201),
        api(M::GET, "/api/v1/resources/{id}", P::Authenticated, get(cat::show)).doc("catalogue", "One resource").resp::<Resource>(),
        api(M::GET, "/api/v1/resources/{id}/gradings", P::Authenticated, get(cat::gradings)).doc("catalogue", "Grading versions, newest first").resp::<Vec<Grading>>(),
        api(M::POST, "/api/v1/resources/{id}/gradings", P::ResourceManage, post(cat::propose)).doc("catalogue", "Propose a new grading version (regrading or schema change)").body::<NewGrading>().resp::<Grading>().status(201),
        api(M::POST, "/api/v1/resources/{id}/gradings/{version}/confirm", P::GradeConfirm, post(cat::confirm)).doc("catalogue", "Confirm a proposed grading").body::<cat::Decision>().resp::<Grading>(),
        api(M::POST, "/api/v1/resources/{id}/gradings/{version}/reject", P::GradeConfirm, post(cat::reject)).doc("catalogue", "Reject a proposed grading").body::<cat::Decision>().resp::<Grading>(),
        api(M::GET, "/api/v1/gradings/pending", P::GradeConfirm, get(cat::pending)).doc("catalogue", "Gradings waiting for confirmation").resp::<Vec<Grading>>(),
        api(M::POST, "/api/v1/resources/{id}/negative-list", P::ResourceManage, post(cat::request_negative)).doc("catalogue", "Ask to keep a resource out of authorized operation").body::<cat::NegativeRequest>().resp::<NegativeEntry>().status(201),
        api(M::GET, "/api/v1/negative-list", P::CatalogueRead, get(cat::negative_all)).doc("catalogue", "All negative-list entries").resp::<Vec<NegativeEntry>>(),
        api(M::POST, "/api/v1/negative-list/{id}/approve", P::NegativeListDecide, post(cat::approve_negative)).doc("catalogue", "Approve a negative-list request").body::<cat::Decision>().resp::<NegativeEntry>(),
        api(M::POST, "/api/v1/negative-list/{id}/reject", P::NegativeListDecide, post(cat::reject_negative)).doc("catalogue", "Reject a negative-list request").body::<cat::Decision>().resp::<NegativeEntry>(),
        api(M::POST, "/api/v1/negative-list/{id}/withdraw", P::Authenticated, post(cat::withdraw_negative)).doc("catalogue", "Withdraw a request or lift an entry (owner or data authority)").body::<cat::Decision>().resp::<NegativeEntry>(),
        api(M::POST, "/api/v1/resources/{id}/consents", P::ResourceManage, post(cat::record_consent)).doc("catalogue", "Record the providing department's consent or refusal").body::<cat::ConsentBody>().resp::<ConsentRecord>().status(201),
        api(M::GET, "/api/v1/resources/{id}/consents", P::Authenticated, get(cat::consents)).doc("catalogue", "Consent records, newest first").resp::<Vec<ConsentRecord>>(),
        // Data versions (A5)
        api(M::POST, "/api/v1/resources/{id}/data", P::ResourceManage, post(dt::upload).layer(axum::extract::DefaultBodyLimit::max(crate::UPLOAD_LIMIT))).doc("data", "Load a new data version: the request body is the file (CSV, JSON lines or Parquet), streamed").query::<dt::LoadQuery>().resp::<DataVersion>().status(201),
        api(M::GET, "/api/v1/resources/{id}/data", P::Authenticated, get(dt::versions)).doc("data", "Data versions, newest first").resp::<Vec<DataVersion>>(),
        api(M::POST, "/api/v1/resources/{id}/data/{version}/current", P::ResourceManage, post(dt::make_current)).doc("data", "Make an earlier data version current again").resp::<DataVersion>(),
        api(M::GET, "/api/v1/resources/{id}/rejections", P::Authenticated, get(dt::rejections)).doc("data", "Rejected loads").resp::<Vec<Rejection>>(),
        api(M::GET, "/api/v1/resources/{id}/rejections/{rid}/report", P::Authenticated, get(dt::report)).doc("data", "The row-level report of a rejected load (CSV)").produces("text/csv"),
        api(M::GET, "/api/v1/resources/{id}/quality/rules", P::Public, get(qa::rules)).doc("quality", "The quality rules in force (defaults until the department sets its own)").resp::<QualityRules>(),
        api(M::POST, "/api/v1/resources/{id}/quality/rules", P::ResourceManage, post(qa::set_rules)).doc("quality", "Set new quality rules (a new rules version)").body::<Vec<shuyun_domain::quality::Rule>>().resp::<QualityRules>().status(201),
        api(M::GET, "/api/v1/resources/{id}/quality", P::Public, get(qa::history)).doc("quality", "Quality scores over time, one per data version").resp::<Vec<QualityScore>>(),
        api(M::GET, "/api/v1/resources/{id}/data/{version}/quality", P::Public, get(qa::report)).doc("quality", "The quality report of a data version (row numbers, never values)").resp::<StoredReport>(),
        api(M::POST, "/api/v1/resources/{id}/data/{version}/quality", P::ResourceManage, post(qa::reevaluate)).doc("quality", "Evaluate a data version again under the rules in force").resp::<StoredReport>().status(201),
        api(M::POST, "/api/v1/resources/{id}/tickets", P::Authenticated, post(tkt::raise)).doc("tickets", "Raise a correction ticket or an objection on a resource or some of its records").body::<shuyun_store::tickets::NewTicket>().resp::<tkt::TicketView>().status(201),
        api(M::GET, "/api/v1/tickets", P::Authenticated, get(tkt::list)).doc("tickets", "Tickets raised by or addressed to the caller's organisation (all, for whole-catalogue readers), with deadlines").resp::<Vec<tkt::TicketView>>(),
        api(M::GET, "/api/v1/tickets/{id}", P::Authenticated, get(tkt::show)).doc("tickets", "One ticket with its steps").resp::<tkt::TicketDetail>(),
        api(M::POST, "/api/v1/tickets/{id}/steps", P::Authenticated, post(tkt::step)).doc("tickets", "Take a step: acknowledge or answer (department), accept, dispute or withdraw (raiser)").body::<tkt::StepBody>().resp::<tkt::TicketView>(),
        // Authorization: implementation plans (B1)
        api(M::POST, "/api/v1/plans", P::PlanDraft, post(pl_::create)).doc("plans", "Draft an implementation plan (实施方案) with the twelve items").body::<PlanContent>().resp::<pl_::PlanView>().status(201),
        api(M::GET, "/api/v1/plans", P::AuthorizationRead, get(pl_::list)).doc("plans", "Every plan version, newest first, with filing deadlines").resp::<Vec<pl_::PlanView>>(),
        api(M::GET, "/api/v1/plans/{id}", P::AuthorizationRead, get(pl_::show)).doc("plans", "One plan version with its versions and steps").resp::<pl_::PlanDetail>(),
        api(M::PUT, "/api/v1/plans/{id}", P::PlanDraft, put(pl_::update)).doc("plans", "Change a draft (approved versions are immutable)").body::<PlanContent>().resp::<pl_::PlanView>(),
        api(M::POST, "/api/v1/plans/{id}/versions", P::PlanDraft, post(pl_::revise)).doc("plans", "Make a new version of an approved plan (a major change is deliberated again)").body::<PlanContent>().resp::<pl_::PlanView>().status(201),
        api(M::POST, "/api/v1/plans/{id}/submit", P::PlanDraft, post(pl_::submit)).doc("plans", "Submit a draft for deliberation").body::<StepNote>().resp::<pl_::PlanView>(),
        api(M::POST, "/api/v1/plans/{id}/withdraw", P::PlanDraft, post(pl_::withdraw)).doc("plans", "Withdraw a draft or a plan under deliberation (with reasons)").body::<StepNote>().resp::<pl_::PlanView>(),
        api(M::POST, "/api/v1/plans/{id}/approve", P::PlanDecide, post(pl_::approve)).doc("plans", "Record the approval (审定); filing is due in 20 working days").body::<StepNote>().resp::<pl_::PlanView>(),
        api(M::POST, "/api/v1/plans/{id}/reject", P::PlanDecide, post(pl_::reject)).doc("plans", "Send a plan back to draft with the deliberation's reasons").body::<StepNote>().resp::<pl_::PlanView>(),
        api(M::POST, "/api/v1/plans/{id}/file", P::PlanDecide, post(pl_::file)).doc("plans", "Record the filing (备案) with its document number").body::<StepNote>().resp::<pl_::PlanView>(),
        api(M::POST, "/api/v1/plans/{id}/activate", P::PlanDecide, post(pl_::activate)).doc("plans", "Put a filed plan in force (earlier versions are superseded)").body::<StepNote>().resp::<pl_::PlanView>(),
        // Authorization: operator selection (B2)
        api(M::POST, "/api/v1/plans/{id}/selections", P::SelectionManage, post(sl_::open)).doc("selections", "Announce an operator selection (遴选公告) under an approved plan").body::<SelectionSpec>().resp::<Selection>().status(201),
        api(M::GET, "/api/v1/public/selections", P::Public, get(sl_::public_list)).doc("selections", "Announcements and published results of operator selections").resp::<Vec<Selection>>(),
        api(M::GET, "/api/v1/selections/{id}", P::Authenticated, get(sl_::show)).doc("selections", "A selection with what the caller may see of applications, panel, scores and objections").resp::<SelectionDetail>(),
        api(M::POST, "/api/v1/selections/{id}/applications", P::SelectionApply, post(sl_::apply)).doc("selections", "Apply with one's materials").body::<sl_::NewApplication>().resp::<SelectionApplication>().status(201),
        api(M::POST, "/api/v1/selections/{id}/reviewers", P::SelectionManage, post(sl_::add_reviewer)).doc("selections", "Put a user on the review panel").body::<sl_::NewReviewer>().resp::<Vec<PanelMember>>(),
        api(M::POST, "/api/v1/selections/{id}/scores", P::Authenticated, post(sl_::score)).doc("selections", "Score an application on every criterion (panel members; never one's own organisation)").body::<sl_::ScoreSheet>().resp::<Vec<Score>>(),
        api(M::POST, "/api/v1/applications/{id}/qualification", P::SelectionManage, post(sl_::qualify)).doc("selections", "Record the qualification check of an application").body::<sl_::Qualification>().resp::<SelectionApplication>(),
        api(M::POST, "/api/v1/selections/{id}/close", P::SelectionManage, post(sl_::close)).doc("selections", "Close applications after the deadline (too few fail the selection)").body::<StepNote>().resp::<Selection>(),
        api(M::POST, "/api/v1/selections/{id}/publish", P::SelectionManage, post(sl_::publish)).doc("selections", "Publish the ranking for public notice (结果公示)").body::<StepNote>().resp::<Selection>(),
        api(M::POST, "/api/v1/selections/{id}/reopen", P::SelectionManage, post(sl_::reopen)).doc("selections", "Reopen the review after an upheld objection").body::<StepNote>().resp::<Selection>(),
        api(M::POST, "/api/v1/selections/{id}/award", P::SelectionManage, post(sl_::award)).doc("selections", "Award to the first ranked once the notice has ended and every objection is answered").body::<StepNote>().resp::<Selection>(),
        api(M::POST, "/api/v1/selections/{id}/fail", P::SelectionManage, post(sl_::fail)).doc("selections", "Declare the selection failed (废标), with reasons").body::<StepNote>().resp::<Selection>(),
        api(M::POST, "/api/v1/selections/{id}/cancel", P::SelectionManage, post(sl_::cancel)).doc("selections", "Cancel the selection, with reasons").body::<StepNote>().resp::<Selection>(),
        api(M::POST, "/api/v1/selections/{id}/objections", P::Authenticated, post(sl_::object)).doc("selections", "Lodge an objection to the published result during the notice").body::<sl_::NewObjection>().resp::<Objection>().status(201),
        api(M::POST, "/api/v1/objections/{id}/answer", P::SelectionManage, post(sl_::answer)).doc("selections", "Answer an objection: upheld or dismissed").body::<sl_::ObjectionAnswer>().resp::<Objection>(),
        // Authorization: operating agreements (B3), scenarios (B4), the access decision (B6)
        api(M::POST, "/api/v1/selections/{id}/agreements", P::AgreementManage, post(ag_::draft)).doc("agreements", "Draft the operating agreement (运营协议) of an awarded selection").body::<AgreementContent>().resp::<ag_::AgreementEntry>().status(201),
        api(M::GET, "/api/v1/agreements", P::Authenticated, get(ag_::list)).doc("agreements", "Agreements the caller may see (its own, as operator), in the state in force").resp::<Vec<ag_::AgreementEntry>>(),
        api(M::GET, "/api/v1/agreements/{id}", P::Authenticated, get(ag_::show)).doc("agreements", "One agreement with its scenario plans and steps").resp::<ag_::AgreementDetail>(),
        api(M::PUT, "/api/v1/agreements/{id}", P::AgreementManage, put(ag_::update)).doc("agreements", "Change a drafted agreement").body::<AgreementContent>().resp::<ag_::AgreementEntry>(),
        api(M::POST, "/api/v1/agreements/{id}/sign", P::AgreementManage, post(ag_::sign)).doc("agreements", "Record the signing; filing is due in 20 working days").body::<StepNote>().resp::<ag_::AgreementEntry>(),
        api(M::POST, "/api/v1/agreements/{id}/file", P::AgreementManage, post(ag_::file)).doc("agreements", "Record the filing (备案) with its document number").body::<StepNote>().resp::<ag_::AgreementEntry>(),
        api(M::POST, "/api/v1/agreements/{id}/activate", P::AgreementManage, post(ag_::activate)).doc("agreements", "Put a filed agreement into operation").body::<StepNote>().resp::<ag_::AgreementEntry>(),
        api(M::POST, "/api/v1/agreements/{id}/suspend", P::AgreementSuspend, post(ag_::suspend)).doc("agreements", "Suspend an active agreement (with reasons): the operator's access ends at once").body::<StepNote>().resp::<ag_::AgreementEntry>(),
        api(M::POST, "/api/v1/agreements/{id}/reinstate", P::AgreementEnforce, post(ag_::reinstate)).doc("agreements", "Reinstate a suspended agreement").body::<StepNote>().resp::<ag_::AgreementEntry>(),
        api(M::POST, "/api/v1/agreements/{id}/terminate", P::AgreementEnforce, post(ag_::terminate)).doc("agreements", "Terminate early (终止) with reasons: access ends, the exit begins").body::<StepNote>().resp::<ag_::AgreementEntry>(),
        api(M::POST, "/api/v1/agreements/{id}/exit", P::AgreementManage, post(ag_::exit)).doc("agreements", "Record the operator's early exit at its request: access ends, the exit begins").body::<StepNote>().resp::<ag_::AgreementEntry>(),
        api(M::POST, "/api/v1/agreements/{id}/cancel", P::AgreementManage, post(ag_::cancel)).doc("agreements", "Abandon a drafted agreement").body::<StepNote>().resp::<ag_::AgreementEntry>(),
        api(M::POST, "/api/v1/agreements/{id}/renewals", P::AgreementManage, post(ag_::renew)).doc("agreements", "Draft the renewal (续期) of a live agreement for the following term").body::<ag_::Renewal>().resp::<ag_::AgreementEntry>().status(201),
        api(M::POST, "/api/v1/agreements/{id}/scenarios", P::ScenarioSubmit, post(ag_::submit_scenario)).doc("scenarios", "Submit a scenario plan (场景开发方案) on one's filed or active agreement").body::<ScenarioPlan>().resp::<Scenario>().status(201),
        api(M::GET, "/api/v1/scenarios/{id}", P::Authenticated, get(ag_::show_scenario)).doc("scenarios", "One scenario plan (its operator and the lifecycle's readers)").resp::<Scenario>(),
        api(M::POST, "/api/v1/scenarios/{id}/approve", P::ScenarioReview, post(ag_::approve_scenario)).doc("scenarios", "Approve a scenario plan (only on an active agreement)").body::<StepNote>().resp::<Scenario>(),
        api(M::POST, "/api/v1/scenarios/{id}/reject", P::ScenarioReview, post(ag_::reject_scenario)).doc("scenarios", "Reject a scenario plan with reasons").body::<StepNote>().resp::<Scenario>(),
        api(M::POST, "/api/v1/scenarios/{id}/revoke", P::ScenarioReview, post(ag_::revoke_scenario)).doc("scenarios", "Revoke an approval with reasons").body::<StepNote>().resp::<Scenario>(),
        api(M::POST, "/api/v1/scenarios/{id}/withdraw", P::ScenarioSubmit, post(ag_::withdraw_scenario)).doc("scenarios", "Withdraw one's scenario plan before the decision").body::<StepNote>().resp::<Scenario>(),
        api(M::POST, "/api/v1/authorize", P::WorkspaceUse, post(ag_::authorize)).doc("agreements", "May my organisation use this resource (field) for this purpose in this scenario now? The one access decision").body::<ag_::AccessQuery>().resp::<Decision>(),
        // Authorization: exits (B5, G9)
        api(M::GET, "/api/v1/exits", P::AuthorizationRead, get(ag_::exits)).doc("exits", "Every exit: working copies to delete, handover, log retention").resp::<Vec<Exit>>(),
        api(M::POST, "/api/v1/agreements/{id}/destruction", P::AgreementManage, post(ag_::destroy)).doc("exits", "Record the destruction of an exited operator's working copies (销毁记录), confirmed by a second person").body::<ag_::Destruction>().resp::<Exit>(),
        api(M::POST, "/api/v1/agreements/{id}/handover", P::AgreementManage, post(ag_::add_handover)).doc("exits", "Add a handover item").body::<ag_::NewHandoverItem>().resp::<Exit>(),
        api(M::POST, "/api/v1/agreements/{id}/handover/{item}/complete", P::AgreementManage, post(ag_::complete_handover)).doc("exits", "Tick off a handover item with its evidence").body::<ag_::HandoverDone>().resp::<Exit>(),
        api(M::POST, "/api/v1/agreements/{id}/logs/release", P::AgreementManage, post(ag_::release_logs)).doc("exits", "Release the work logs for deletion (refused before three years)").body::<StepNote>().resp::<Exit>(),
        // Secure workspace records (C3, C5): audited queries, releases and their two-person review, alerts, privacy budgets
        api(M::GET, "/api/v1/scenarios/{id}/workspace", P::WorkspaceUse, get(ws_::workspace)).doc("workspace", "The workspace (数据沙箱) of an approved scenario: its tables as the scope allows them, each field's grade and exposure, the output policy and the limits").resp::<crate::workspace::WorkspaceInfo>(),
        api(M::POST, "/api/v1/scenarios/{id}/workspace/queries", P::WorkspaceUse, post(ws_::run_query)).doc("workspace", "Run one SQL query in the workspace, on the real data or its synthetic look-alike; checked before it is shown, audited in the ledger").body::<ws_::RunQuery>().resp::<crate::workspace::QueryResult>(),
        api(M::GET, "/api/v1/scenarios/{id}/queries", P::Authenticated, get(ws_::queries)).doc("workspace", "A scenario's audited queries, newest first (its operator and the lifecycle's readers)").query::<ws_::QueriesQuery>().resp::<Vec<StoredQuery>>(),
        api(M::POST, "/api/v1/queries/{id}/releases", P::WorkspaceUse, post(ws_::request_release)).doc("workspace", "Ask for a checked result to leave the domain (出域申请)").body::<ws_::NewRelease>().resp::<Release>().status(201),
        api(M::GET, "/api/v1/releases", P::Authenticated, get(ws_::releases)).doc("workspace", "Release requests the caller may see, newest first").query::<ws_::ReleasesQuery>().resp::<Vec<Release>>(),
        api(M::GET, "/api/v1/releases/{id}", P::Authenticated, get(ws_::release)).doc("workspace", "One release request").resp::<Release>(),
        api(M::POST, "/api/v1/releases/{id}/approve", P::ScenarioReview, post(ws_::approve_release)).doc("workspace", "Approve a release (two different reviewers, never the author)").body::<StepNote>().resp::<Release>(),
        api(M::POST, "/api/v1/releases/{id}/reject", P::ScenarioReview, post(ws_::reject_release)).doc("workspace", "Reject a release, with reasons").body::<StepNote>().resp::<Release>(),
        api(M::POST, "/api/v1/releases/{id}/withdraw", P::WorkspaceUse, post(ws_::withdraw_release)).doc("workspace", "Withdraw one's release request, with reasons").body::<StepNote>().resp::<Release>(),
        api(M::GET, "/api/v1/releases/{id}/content", P::Authenticated, get(ws_::release_content)).doc("workspace", "Download an approved release (in the ledger)").produces("text/csv"),
        api(M::GET, "/api/v1/workspace/alerts", P::AuthorizationRead, get(ws_::alerts)).doc("workspace", "Linkage alerts (关联风险告警), newest first").resp::<Vec<Alert>>(),
        api(M::POST, "/api/v1/workspace/alerts/{id}/handle", P::AgreementEnforce, post(ws_::handle_alert)).doc("workspace", "Record how an alert was handled (implementing institution or data authority)").body::<StepNote>().resp::<Alert>(),
        api(M::GET, "/api/v1/agreements/{id}/privacy-budget", P::Authenticated, get(ws_::budget)).doc("workspace", "An agreement's differential-privacy budget (ε total, spent, remaining), if set").resp::<Option<ws_::BudgetView>>(),
        api(M::PUT, "/api/v1/agreements/{id}/privacy-budget", P::AgreementManage, put(ws_::set_budget)).doc("workspace", "Set an agreement's total ε (never below what is spent)").body::<ws_::BudgetBody>().resp::<ws_::BudgetView>(),
        api(M::GET, "/api/v1/agreements/{id}/output-policy", P::Authenticated, get(ws_::output_policy)).doc("workspace", "An agreement's output-checking policy (k, dominance, p% rule, rounding)").resp::<shuyun_domain::workspace::OutputPolicy>(),
        api(M::PUT, "/api/v1/agreements/{id}/output-policy", P::AgreementManage, put(ws_::set_output_policy)).doc("workspace", "Set an agreement's output-checking policy").body::<shuyun_domain::workspace::OutputPolicy>().resp::<shuyun_domain::workspace::OutputPolicy>(),
        // Authorization: public disclosure (G6)
        api(M::GET, "/api/v1/public/authorizations", P::Public, get(dc_::authorizations)).doc("disclosure", "Every authorization: operator, content, scope, term and state in force (信息公开)").resp::<Vec<AuthorizationDisclosure>>(),
        api(M::GET, "/api/v1/public/plans", P::Public, get(dc_::plans)).doc("disclosure", "The public parts of the approved implementation plans").resp::<Vec<PlanDisclosure>>(),
        // Portal pages
        page(M::GET, "/", P::Public, get(ph::home)),
        page(M::GET, "/login", P::Public, get(pn::form)),
        page(M::POST, "/login", P::Public, post(pn::submit)),
        page(M::POST, "/logout", P::Authenticated, post(pn::logout)),
        page(M::GET, "/lang/{lang}", P::Public, get(pages::set_lang)),
        page(M::GET, "/account", P::Authenticated, get(pa::show)),
        page(M::POST, "/account/password", P::Authenticated, post(pa::change_password)),
        page(M::POST, "/account/tokens", P::Authenticated, post(pa::issue_token)),
        page(M::POST, "/account/tokens/{id}/revoke", P::Authenticated, post(pa::revoke_token)),
        page(M::GET, "/admin/orgs", P::OrgRead, get(pd::orgs)),
        page(M::POST, "/admin/orgs", P::OrgAdmin, post(pd::create_org)),
        page(M::POST, "/admin/orgs/{id}/toggle", P::OrgAdmin, post(pd::toggle_org)),
        page(M::GET, "/admin/users", P::UserRead, get(pd::users)),
        page(M::POST, "/admin/users", P::UserAdmin, post(pd::create_user)),
        page(M::GET, "/admin/users/{id}", P::UserRead, get(pd::user)),
        page(M::POST, "/admin/users/{id}/toggle", P::UserAdmin, post(pd::toggle_user)),
        page(M::POST, "/admin/users/{id}/reset-password", P::UserAdmin, post(pd::reset_password)),
        page(M::POST, "/admin/users/{id}/tokens", P::TokenAdmin, post(pd::issue_user_token)),
        page(M::POST, "/admin/tokens/{id}/revoke", P::TokenAdmin, post(pd::revoke_any_token)),
        page(M::GET, "/catalogue", P::Public, get(pc::list)),
        page(M::GET, "/open-data", P::Public, get(po::page)),
        page(M::POST, "/catalogue", P::ResourceManage, post(pc::create)),
        page(M::GET, "/catalogue/new", P::ResourceManage, get(pc::new_form)),
        page(M::GET, "/catalogue/{id}", P::Public, get(pc::show)),
        page(M::POST, "/catalogue/{id}/gradings/{version}/decide", P::GradeConfirm, post(pc::decide_grading)),
        page(M::POST, "/catalogue/{id}/negative-list", P::ResourceManage, post(pc::request_negative)),
        page(M::POST, "/catalogue/{id}/data", P::ResourceManage, post(pdt::upload).layer(axum::extract::DefaultBodyLimit::max(crate::UPLOAD_LIMIT))),
        page(M::POST, "/catalogue/{id}/data/{version}/current", P::ResourceManage, post(pdt::make_current)),
        page(M::GET, "/catalogue/{id}/data/{version}/quality", P::Public, get(pdt::report)),
        page(M::POST, "/catalogue/{id}/quality/rules", P::ResourceManage, post(pdt::set_rules)),
        page(M::POST, "/catalogue/{id}/tickets", P::Authenticated, post(ptk::raise)),
        page(M::GET, "/tickets", P::Authenticated, get(ptk::list)),
        page(M::GET, "/tickets/{id}", P::Authenticated, get(ptk::show)),
        page(M::POST, "/tickets/{id}/steps", P::Authenticated, post(ptk::step)),
        page(M::GET, "/negative-list", P::Public, get(pc::negative_list)),
        page(M::POST, "/negative-list/{id}/decide", P::NegativeListDecide, post(pc::decide_negative)),
        // Authorization lifecycle pages (the store checks each step's role)
        page(M::GET, "/disclosure", P::Public, get(pdc::page)),
        page(M::GET, "/authorization", P::Authenticated, get(pages::authorization::hub)),
        page(M::GET, "/plans/new", P::PlanDraft, get(ppl::new_form)),
        page(M::POST, "/plans", P::PlanDraft, post(ppl::create)),
        page(M::GET, "/plans/{id}", P::AuthorizationRead, get(ppl::show)),
        page(M::POST, "/plans/{id}/edit", P::PlanDraft, post(ppl::edit)),
        page(M::POST, "/plans/{id}/versions", P::PlanDraft, post(ppl::revise)),
        page(M::POST, "/plans/{id}/steps", P::AuthorizationRead, post(ppl::step)),
        page(M::POST, "/plans/{id}/selections", P::SelectionManage, post(psl::open)),
        page(M::GET, "/selections/{id}", P::Public, get(psl::show)),
        page(M::POST, "/selections/{id}/applications", P::SelectionApply, post(psl::apply)),
        page(M::POST, "/selections/{id}/reviewers", P::SelectionManage, post(psl::add_reviewer)),
        page(M::POST, "/selections/{id}/scores", P::Authenticated, post(psl::score)),
        page(M::POST, "/applications/{id}/qualification", P::SelectionManage, post(psl::qualify)),
        page(M::POST, "/selections/{id}/steps", P::SelectionManage, post(psl::step)),
        page(M::POST, "/selections/{id}/objections", P::Authenticated, post(psl::object)),
        page(M::POST, "/objections/{id}/answer", P::SelectionManage, post(psl::answer)),
        page(M::POST, "/selections/{id}/agreements", P::AgreementManage, post(pag::draft)),
        page(M::GET, "/agreements/{id}", P::Authenticated, get(pag::show)),
        page(M::POST, "/agreements/{id}/steps", P::Authenticated, post(pag::step)),
        page(M::POST, "/agreements/{id}/renewals", P::AgreementManage, post(pag::renew)),
        page(M::POST, "/agreements/{id}/scenarios", P::ScenarioSubmit, post(pag::submit_scenario)),
        page(M::POST, "/scenarios/{id}/steps", P::Authenticated, post(pag::scenario_step)),
        page(M::POST, "/agreements/{id}/destruction", P::AgreementManage, post(pag::destroy)),
        page(M::POST, "/agreements/{id}/handover", P::AgreementManage, post(pag::add_handover)),
        page(M::POST, "/agreements/{id}/handover/{item}/complete", P::AgreementManage, post(pag::complete_handover)),
        page(M::POST, "/agreements/{id}/logs/release", P::AgreementManage, post(pag::release_logs)),
        page(M::GET, "/scenarios/{id}/workspace", P::WorkspaceUse, get(pages::workspace::workspace)),
        page(M::POST, "/scenarios/{id}/workspace", P::WorkspaceUse, post(pages::workspace::run)),
        page(M::POST, "/workspace/queries/{id}/release", P::WorkspaceUse, post(pages::workspace::request_release)),
        page(M::GET, "/workspace/releases", P::Authenticated, get(pages::workspace::releases)),
        page(M::POST, "/workspace/releases/{id}/steps", P::Authenticated, post(pages::workspace::release_step)),
        page(M::GET, "/workspace/alerts", P::AuthorizationRead, get(pages::workspace::alerts)),
        page(M::POST, "/workspace/alerts/{id}/handle", P::AgreementEnforce, post(pages::workspace::handle_alert)),
        page(M::POST, "/agreements/{id}/privacy-budget", P::AgreementManage, post(pag::set_budget)),
        page(M::POST, "/agreements/{id}/output-policy", P::AgreementManage, post(pag::set_output_policy)),
        page(M::GET, "/ledger", P::LedgerRead, get(pl::explorer)),
        page(M::GET, "/ledger/entries/{index}", P::LedgerRead, get(pl::entry)),
    ]
}

/// Build the router: each route wrapped in its own guard.
pub fn router(state: AppState) -> Router {
    let mut r: Router<AppState> = Router::new();
    for route in table() {
        let g = Guard {
            state: state.clone(),
            perm: route.perm,
            kind: route.kind,
            path: route.path,
        };
        let handler = route
            .handler
            .layer(axum::middleware::from_fn_with_state(g, guard));
        r = r.route(route.path, handler);
    }
    r.with_state(state)
}

fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}

/// The OpenAPI 3.1 document, generated from the route table and the
/// request/response types' JSON Schemas.
pub fn openapi() -> Value {
    let mut settings = schemars::generate::SchemaSettings::draft2020_12();
    settings.definitions_path = "#/components/schemas/".into();
    let mut g = settings.into_generator();
    let problem = schema_of::<crate::error::Problem>(&mut g);
    let mut paths: Map<String, Value> = Map::new();
    for route in table() {
        if route.kind == Kind::Page {
            continue;
        }
        let mut params: Vec<Value> = path_params(route.path)
            .into_iter()
            .map(|p| {
                json!({"name": p, "in": "path", "required": true,
                       "schema": {"type": "integer", "format": "int64", "minimum": 0}})
            })
            .collect();
        if let Some(q) = route.query {
            let s = q(&mut g);
            let resolved = resolve_ref(&s, &g);
            let required: Vec<String> = resolved
                .get("required")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            if let Some(props) = resolved.get("properties").and_then(Value::as_object) {
                for (name, schema) in props {
                    params.push(json!({"name": name, "in": "query", "required": required.contains(name), "schema": schema}));
                }
            }
        }
        let mut responses = Map::new();
        let ok = match (route.response, route.response_type) {
            (Some(f), ct) => {
                json!({"description": "success", "content": {ct: {"schema": f(&mut g)}}})
            }
            (None, ct) if ct.starts_with("text/") => {
                json!({"description": "success", "content": {ct: {"schema": {"type": "string"}}}})
            }
            (None, "application/ld+json") => {
                json!({"description": "success", "content": {"application/ld+json": {"schema": {"type": "object"}}}})
            }
            (None, _) if route.status == 204 => json!({"description": "done"}),
            (None, ct) => json!({"description": "success", "content": {ct: {"schema": {}}}}),
        };
        responses.insert(route.status.to_string(), ok);
        responses.insert(
            "4XX".into(),
            json!({"description": "the request was refused; see `code`",
                   "content": {"application/problem+json": {"schema": problem.clone()}}}),
        );
        let mut op = json!({
            "operationId": format!("{}_{}", route.method.as_str().to_lowercase(),
                route.path.trim_start_matches('/').replace(['/', '{', '}', '.', '-'], "_")),
            "summary": route.summary,
            "tags": [route.tag],
            "x-permission": route.perm.as_str(),
            "parameters": params,
            "responses": responses,
        });
        if route.perm == Permission::Public {
            op["security"] = json!([]);
        }
        if let Some(b) = route.body {
            op["requestBody"] =
                json!({"required": true, "content": {"application/json": {"schema": b(&mut g)}}});
        }
        let entry = paths
            .entry(route.path.to_string())
            .or_insert_with(|| json!({}));
        entry[route.method.as_str().to_lowercase()] = op;
    }
    let schemas: Map<String, Value> = g.take_definitions(true).into_iter().collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "shuyun 数运 — public data authorized operation platform",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Errors are application/problem+json with a stable `code`. Authenticate with `Authorization: Bearer <token>` or the session cookie (unsafe requests then need `X-CSRF-Token`)."
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE}
            }
        },
        "security": [{"bearer": []}, {"session": []}]
    })
}

fn resolve_ref(s: &Schema, g: &SchemaGenerator) -> Value {
    let v = s.as_value().clone();
    if let Some(r) = v.get("$ref").and_then(Value::as_str)
        && let Some(name) = r.strip_prefix("#/components/schemas/")
        && let Some(def) = g.definitions().get(name)
    {
        return def.clone();
    }
    v
}
