//! The stand-in over real HTTP: SSE and JSON answers, the model list, the request log.

use krill_stand_in::{Script, StandIn};
use rstest::rstest;
use serde_json::{Value, json};

fn first_turn(stream: bool) -> Value {
    json!({
        "model": "stand-in",
        "stream": stream,
        "stream_options": { "include_usage": true },
        "messages": [{ "role": "user", "content": "write it" }],
        "tools": [{ "type": "function", "function": { "name": "write", "parameters": {
            "type": "object", "properties": { "path": { "type": "string" }, "content": { "type": "string" } } } } }],
    })
}

async fn start() -> StandIn {
    StandIn::start("127.0.0.1:0".parse().expect("addr"), Script::default())
        .await
        .expect("start")
}

/// The `data:` payloads of an SSE body, `[DONE]` included.
fn events(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(str::to_owned)
        .collect()
}

#[rstest]
#[tokio::test]
async fn streams_one_write_call_as_server_sent_events() {
    let stand_in = start().await;
    let response = reqwest::Client::new()
        .post(format!("{}/chat/completions", stand_in.base_url()))
        .bearer_auth("provider-key")
        .json(&first_turn(true))
        .send()
        .await
        .expect("request");
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let body = response.text().await.expect("body");
    let events = events(&body);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).expect("chunk JSON"))
        .collect();
    let call = chunks
        .iter()
        .find_map(|c| c.pointer("/choices/0/delta/tool_calls/0"))
        .expect("a tool call chunk");
    assert_eq!(call["function"]["name"], "write");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().expect("arguments"))
            .expect("JSON arguments");
    assert_eq!(args["path"], Script::default().file_path);
    assert!(
        chunks
            .iter()
            .any(|c| c.pointer("/choices/0/finish_reason") == Some(&json!("tool_calls")))
    );
    assert!(
        chunks.iter().any(|c| c.get("usage").is_some()),
        "usage chunk requested by stream_options"
    );

    let recorded = stand_in.requests();
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        recorded[0].authorization.as_deref(),
        Some("Bearer provider-key")
    );
    assert_eq!(recorded[0].reply, "tool_call");
}

#[rstest]
#[tokio::test]
async fn answers_json_lists_models_and_serves_its_log() {
    let stand_in = start().await;
    let client = reqwest::Client::new();
    let reply: Value = client
        .post(format!("{}/chat/completions", stand_in.base_url()))
        .json(&first_turn(false))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(reply["choices"][0]["finish_reason"], "tool_calls");
    let models: Value = client
        .get(format!("{}/models", stand_in.base_url()))
        .send()
        .await
        .expect("models")
        .json()
        .await
        .expect("json");
    assert_eq!(models["data"][0]["id"], "stand-in");
    let log: Value = client
        .get(format!("http://{}/_stand-in/requests", stand_in.addr()))
        .send()
        .await
        .expect("log")
        .json()
        .await
        .expect("json");
    assert_eq!(log.as_array().map(Vec::len), Some(2));
    let bad = client
        .post(format!("{}/chat/completions", stand_in.base_url()))
        .body("{not json")
        .send()
        .await
        .expect("request");
    assert_eq!(bad.status(), 400);
}
