//! Merging and splitting KServe v2 HTTP requests, JSON and binary.

use super::*;

const PATH: &str = "/v2/models/m/infer";

fn json_offer(body: &str) -> Option<Offer<Member>> {
    offer(
        PATH,
        11..12,
        HeaderMap::new(),
        &Bytes::from(body.to_owned()),
        std::time::Instant::now(),
    )
}

fn binary_offer(id: &str, rows: &[[f32; 2]]) -> Offer<Member> {
    let data: Vec<u8> = rows
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let head = format!(
        r#"{{"id":"{id}","inputs":[{{"name":"X","shape":[{},2],"datatype":"FP32","parameters":{{"binary_data_size":{}}}}}],"outputs":[{{"name":"Y","parameters":{{"binary_data":true}}}}]}}"#,
        rows.len(),
        data.len()
    );
    let mut headers = HeaderMap::new();
    headers.insert(HEADER_LENGTH, HeaderValue::from(head.len()));
    let mut body = head.into_bytes();
    body.extend_from_slice(&data);
    offer(
        PATH,
        11..12,
        headers,
        &Bytes::from(body),
        std::time::Instant::now(),
    )
    .unwrap()
}

fn body_of(response: &Response<ResponseBody>) -> Bytes {
    match response.body() {
        ResponseBody::Full(Some(b)) => b.clone(),
        _ => panic!("a full body"),
    }
}

#[test]
fn json_requests_merge_and_split_keeping_number_text() {
    let a = json_offer(
        r#"{"id":"a","inputs":[{"name":"X","shape":[1,2],"datatype":"FP32","data":[[0.1,2e-5]]}]}"#,
    )
    .unwrap();
    let b = json_offer(
        r#"{"inputs":[{"name":"X","shape":[2,2],"datatype":"FP32","data":[1.0,2,3,4]}]}"#,
    )
    .unwrap();
    assert_eq!(a.key, b.key);
    assert_eq!((a.rows, b.rows), (1, 2));
    let members = [&a.member, &b.member];
    let merged = KserveHttp.merge(&members).unwrap();
    let text = std::str::from_utf8(&merged.body).unwrap();
    assert!(text.contains(r#""shape":[3,2]"#), "{text}");
    assert!(text.contains(r#""data":[0.1,2e-5,1.0,2,3,4]"#), "{text}");
    assert!(!text.contains(r#""id""#), "{text}");

    let reply = UpstreamReply {
        status: http::StatusCode::OK,
        headers: HeaderMap::new(),
        body: Bytes::from_static(
            br#"{"model_name":"m","model_version":"1","outputs":[{"name":"Y","datatype":"FP32","shape":[3,2],"data":[0.2,4e-5,2.0,4,6,8]}]}"#,
        ),
        trailers: None,
    };
    let parts = KserveHttp.split(&reply, &members).unwrap();
    let first: Value = serde_json::from_slice(&body_of(&parts[0])).unwrap();
    assert_eq!(first["id"], "a");
    assert_eq!(first["outputs"][0]["shape"], serde_json::json!([1, 2]));
    assert!(
        std::str::from_utf8(&body_of(&parts[0]))
            .unwrap()
            .contains("[0.2,4e-5]")
    );
    let second = std::str::from_utf8(&body_of(&parts[1])).unwrap().to_owned();
    assert!(
        second.contains(r#""shape":[2,2]"#) && second.contains("[2.0,4,6,8]"),
        "{second}"
    );
    assert!(!second.contains(r#""id""#), "{second}");
}

#[test]
fn binary_requests_merge_and_split_by_bytes() {
    let a = binary_offer("a", &[[1.0, 2.0]]);
    let b = binary_offer("b", &[[3.0, 4.0], [5.0, 6.0]]);
    assert_eq!(a.key, b.key, "ids do not split batches");
    let members = [&a.member, &b.member];
    let merged = KserveHttp.merge(&members).unwrap();
    let json_len: usize = merged.headers[&HEADER_LENGTH]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let head: Value = serde_json::from_slice(&merged.body[..json_len]).unwrap();
    assert_eq!(head["inputs"][0]["shape"], serde_json::json!([3, 2]));
    assert_eq!(head["inputs"][0]["parameters"]["binary_data_size"], 24);
    assert_eq!(merged.body.len(), json_len + 24);

    let out: Vec<u8> = (0..6)
        .flat_map(|i| (i as f32 * 10.0).to_le_bytes())
        .collect();
    let head = r#"{"model_name":"m","model_version":"1","outputs":[{"name":"Y","datatype":"FP32","shape":[3,2],"parameters":{"binary_data_size":24}}]}"#;
    let mut headers = HeaderMap::new();
    headers.insert(HEADER_LENGTH, HeaderValue::from(head.len()));
    let mut body = head.as_bytes().to_vec();
    body.extend_from_slice(&out);
    let reply = UpstreamReply {
        status: http::StatusCode::OK,
        headers,
        body: Bytes::from(body),
        trailers: None,
    };
    let parts = KserveHttp.split(&reply, &members).unwrap();
    for (part, (rows, range)) in parts.iter().zip([(1, 0..8), (2, 8..24)]) {
        let len: usize = part.headers()[&HEADER_LENGTH]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let bytes = body_of(part);
        let head: Value = serde_json::from_slice(&bytes[..len]).unwrap();
        assert_eq!(head["outputs"][0]["shape"], serde_json::json!([rows, 2]));
        assert_eq!(&bytes[len..], &out[range]);
    }
}

#[test]
fn unbatchable_requests_are_refused() {
    for body in [
        // batch sizes differ between inputs
        r#"{"inputs":[{"name":"A","shape":[1,2],"datatype":"FP32","data":[1,2]},{"name":"B","shape":[2,1],"datatype":"FP32","data":[1,2]}]}"#,
        // sequence requests keep server state
        r#"{"parameters":{"sequence_id":7},"inputs":[{"name":"A","shape":[1,1],"datatype":"FP32","data":[1]}]}"#,
        // shared memory
        r#"{"inputs":[{"name":"A","shape":[1,1],"datatype":"FP32","parameters":{"shared_memory_region":"r"}}]}"#,
        // data does not match the shape: Triton judges it alone
        r#"{"inputs":[{"name":"A","shape":[1,3],"datatype":"FP32","data":[1,2]}]}"#,
        // an unknown field
        r#"{"inputs":[{"name":"A","shape":[1,1],"datatype":"FP32","data":[1]}],"extra":1}"#,
        "not json",
    ] {
        assert!(json_offer(body).is_none(), "{body}");
    }
    let a = json_offer(r#"{"inputs":[{"name":"A","shape":[1,2],"datatype":"FP32","data":[1,2]}]}"#)
        .unwrap();
    let b =
        json_offer(r#"{"inputs":[{"name":"A","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]}"#)
            .unwrap();
    assert_ne!(a.key, b.key, "other row shapes do not batch together");
}

#[test]
fn an_answer_with_the_wrong_row_count_is_not_split() {
    let a = json_offer(r#"{"inputs":[{"name":"X","shape":[1,1],"datatype":"FP32","data":[1]}]}"#)
        .unwrap();
    let b = json_offer(r#"{"inputs":[{"name":"X","shape":[1,1],"datatype":"FP32","data":[2]}]}"#)
        .unwrap();
    let reply = UpstreamReply {
        status: http::StatusCode::OK,
        headers: HeaderMap::new(),
        body: Bytes::from_static(
            br#"{"model_name":"m","outputs":[{"name":"Y","datatype":"FP32","shape":[1,1],"data":[1]}]}"#,
        ),
        trailers: None,
    };
    assert!(KserveHttp.split(&reply, &[&a.member, &b.member]).is_err());
}
