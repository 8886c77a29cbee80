//! Open data through the API, on both backends: the public downloads an
//! open resource as CSV and Parquet (each download in the ledger) and
//! harvests the public catalogue as DCAT; nothing else is downloadable.

use reqwest::Method;
use serde_json::{Value, json};
use shuyun_store::Backend;

use crate::both_backends;
use crate::kit::spawn_app;

both_backends!(open_data_and_dcat);

fn resource(name: &str, public: bool, open: bool) -> Value {
    json!({
        "name": name, "description": "全市公共文化场馆基本信息", "domain": "culture_tourism",
        "frequency": "quarterly", "source_system": "文旅资源库", "standard": "GB/T 35295",
        "contact": "文旅局信息科", "public": public, "open_data": open,
        "rights": {"holder": "市文广新旅局", "processor": "数字经济发展中心", "operator": "待授权"},
        "schema": [
            {"name": "venue_id", "label": "场馆编号", "type": "string", "key": true, "grade": "general1", "pi": "none"},
            {"name": "name", "label": "场馆名称", "type": "string", "grade": "general1", "pi": "none"},
            {"name": "opened", "label": "开放日期", "type": "date", "nullable": true, "grade": "general1", "pi": "none"},
            {"name": "seats", "label": "座位数", "type": "int64", "nullable": true, "grade": "general1", "pi": "none"}
        ],
        "basis": {"impact_object": "public_interest", "impact_degree": "minor", "reason": "公开的场馆信息"}
    })
}

async fn open_data_and_dcat(backend: Backend) {
    let app = spawn_app(backend).await;
    let dept = app.login("wlj").await;
    let public = app.client();
    let open: Value = dept
        .post("/api/v1/resources", &resource("公共文化场馆", true, true))
        .await
        .expect("open");
    let listed: Value = dept
        .post("/api/v1/resources", &resource("文物保护单位", true, false))
        .await
        .expect("listed");
    let private: Value = dept
        .post("/api/v1/resources", &resource("内部台账", false, false))
        .await
        .expect("private");
    let id = open["id"].as_i64().expect("id");
    let dl = |id: &Value, fmt: &str| format!("/api/v1/public/resources/{id}/download?format={fmt}");

    let e = public
        .get::<Value>(&dl(&open["id"], "csv"))
        .await
        .expect_err("no data yet");
    assert_eq!(e.code(), Some("not_found"));
    let csv = "venue_id,name,opened,seats\nV001,\"景德镇陶瓷博物馆, 新馆\",2015-10-01,800\nV002,御窑厂遗址,,\n";
    for r in [&open, &listed] {
        let up = dept
            .raw(
                Method::POST,
                &format!("/api/v1/resources/{}/data", r["id"]),
                Some(csv),
                "text/csv",
            )
            .await
            .expect("upload");
        assert_eq!(up.status.as_u16(), 201, "{}", up.body);
    }

    // CSV: what was loaded, in the formats ingest reads.
    let got = public
        .raw(Method::GET, &dl(&open["id"], "csv"), None, "")
        .await
        .expect("csv");
    assert_eq!(got.status.as_u16(), 200);
    assert!(got.content_type.starts_with("text/csv"));
    assert_eq!(
        got.body,
        "\u{feff}venue_id,name,opened,seats\r\nV001,\"景德镇陶瓷博物馆, 新馆\",2015-10-01,800\r\nV002,御窑厂遗址,,\r\n"
    );
    // Parquet: the stored object, whose SM3 the ledger holds.
    let versions: Vec<Value> = dept
        .get(&format!("/api/v1/resources/{id}/data"))
        .await
        .expect("versions");
    let http = reqwest::Client::new();
    let pq = http
        .get(format!("{}{}", app.base, dl(&open["id"], "parquet")))
        .send()
        .await
        .expect("parquet");
    assert_eq!(pq.status().as_u16(), 200);
    assert_eq!(
        pq.headers()["x-shuyun-parquet-sm3"],
        versions[0]["sm3"].as_str().expect("sm3")
    );
    let bytes = pq.bytes().await.expect("bytes");
    assert_eq!(
        hex::encode(shuyun_ledger::sm3(&bytes)),
        versions[0]["sm3"].as_str().expect("sm3")
    );

    // Nothing else is downloadable.
    let e = public
        .get::<Value>(&dl(&listed["id"], "csv"))
        .await
        .expect_err("not open");
    assert_eq!(e.code(), Some("forbidden"));
    let e = public
        .get::<Value>(&dl(&private["id"], "csv"))
        .await
        .expect_err("private");
    assert_eq!(e.code(), Some("not_found"));
    let e = dept
        .get::<Value>(&dl(&private["id"], "csv"))
        .await
        .expect_err("even for its owner");
    assert_eq!(e.code(), Some("not_found"));
    let e = public
        .get::<Value>(&dl(&open["id"], "xlsx"))
        .await
        .expect_err("format");
    assert_eq!(e.code(), Some("validation_failed"));

    // Each download is a ledger entry.
    let f = shuyun_store::ledger::EntryFilter {
        action: Some("data.open_download".into()),
        limit: 10,
        ..Default::default()
    };
    let entries = app.store.ledger_entries(&f).await.expect("entries");
    assert_eq!(entries.len(), 2);
    assert!(entries.iter().all(|e| e.actor == "public"));

    // DCAT: the public catalogue, distributions for open data only.
    let d = public
        .raw(Method::GET, "/api/v1/public/dcat.jsonld", None, "")
        .await
        .expect("dcat");
    assert!(d.content_type.starts_with("application/ld+json"));
    let doc: Value = serde_json::from_str(&d.body).expect("json");
    assert_eq!(doc["@type"], "dcat:Catalog");
    assert_eq!(doc["@context"]["dcat"], "http://www.w3.org/ns/dcat#");
    let ds = doc["dcat:dataset"].as_array().expect("datasets");
    let ids: Vec<&str> = ds
        .iter()
        .filter_map(|d| d["dct:identifier"].as_str())
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(!ids.contains(&private["code"].as_str().expect("code")));
    let o = ds
        .iter()
        .find(|d| d["dct:identifier"] == open["code"])
        .expect("open dataset");
    assert_eq!(o["dct:title"]["@value"], "公共文化场馆");
    assert_eq!(
        o["dct:accrualPeriodicity"]["@id"],
        "http://publications.europa.eu/resource/authority/frequency/QUARTERLY"
    );
    let dists = o["dcat:distribution"].as_array().expect("distributions");
    assert_eq!(dists.len(), 2);
    let url = dists[0]["dcat:downloadURL"]["@id"].as_str().expect("url");
    assert!(
        url.starts_with(&app.base) && url.ends_with("download?format=csv"),
        "{url}"
    );
    assert_eq!(
        dists[1]["spdx:checksum"]["spdx:checksumValue"],
        versions[0]["sm3"]
    );
    let l = ds
        .iter()
        .find(|d| d["dct:identifier"] == listed["code"])
        .expect("listed");
    assert!(l.get("dcat:distribution").is_none());
    assert_eq!(l["dct:accessRights"], "RESTRICTED");
    // The harvested download URL works.
    let via = public
        .raw(Method::GET, url.trim_start_matches(&app.base), None, "")
        .await
        .expect("via dcat");
    assert_eq!(via.status.as_u16(), 200);
    assert!(app.store.verify_ledger().await.expect("verify").ok());
    app.stop().await;
}
