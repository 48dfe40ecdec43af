//! The LLM-provider stand-in: the one part of a krill's world tests cannot reach from here.
//!
//! A small OpenAI-compatible server with a fixed script. When a request offers a `write` tool and
//! the conversation does not end in a tool result, it answers with one `write` call (creating
//! [`Script::file_path`] with [`Script::file_content`]); once the tool result comes back, it
//! answers with a final text. Everything it receives is recorded for assertions and served at
//! `GET /_stand-in/requests`.
//!
//! Endpoints: `POST /v1/chat/completions` (SSE when `stream: true`, JSON otherwise),
//! `GET /v1/models`, `GET /health`, `GET|DELETE /_stand-in/requests`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{Value, json};

/// What the stand-in says and does.
#[derive(Debug, Clone)]
pub struct Script {
    /// The model id served at `/v1/models` (requests for any model are answered).
    pub model: String,
    pub file_path: String,
    pub file_content: String,
    pub final_text: String,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            model: "stand-in".to_owned(),
            file_path: "krill-stand-in.txt".to_owned(),
            file_content: "written through a krill by the stand-in model\n".to_owned(),
            // Says what answered, for whoever chats with a krill that `scripts/dev up` brought up.
            final_text: "Done: I wrote krill-stand-in.txt into my workspace. (This is krill's \
                         stand-in model, which answers every turn this way; give the proxy a real \
                         model to talk to an LLM.)"
                .to_owned(),
        }
    }
}

/// One request as received.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The `Authorization` header, verbatim (tests compare it with the key they expect).
    pub authorization: Option<String>,
    pub body: Value,
    /// What the stand-in answered: `tool_call`, `text`, or `-` for non-chat endpoints.
    pub reply: String,
}

impl RecordedRequest {
    pub fn is_chat(&self) -> bool {
        self.path.ends_with("/chat/completions")
    }
}

#[derive(Default)]
struct Shared {
    script: Script,
    requests: Mutex<Vec<RecordedRequest>>,
}

/// A running stand-in; stops when dropped.
pub struct StandIn {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl StandIn {
    /// Serves on `addr` (port 0 picks a free one) from a task on the current tokio runtime.
    pub async fn start(addr: SocketAddr, script: Script) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            script,
            requests: Mutex::new(Vec::new()),
        });
        let app = router(shared.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(StandIn {
            addr,
            shared,
            shutdown: Some(tx),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The OpenAI-style base URL, e.g. `http://127.0.0.1:41234/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Serves until the process ends (the `krill-stand-in` binary).
pub async fn serve(addr: SocketAddr, script: Script) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!(
        "krill-stand-in (LLM-provider stand-in) listening on http://{}/v1",
        listener.local_addr()?
    );
    axum::serve(
        listener,
        router(Arc::new(Shared {
            script,
            requests: Mutex::new(Vec::new()),
        })),
    )
    .await
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/chat/completions", post(chat_completions))
        .route("/v1/models", get(models))
        .route(
            "/health",
            get(|| async { Json(json!({ "ok": true, "role": "llm-provider-stand-in" })) }),
        )
        .route(
            "/_stand-in/requests",
            get(list_requests).delete(clear_requests),
        )
        // OpenClaw's requests carry a ~50 KB system prompt; leave room for long conversations.
        .layer(DefaultBodyLimit::max(32 << 20))
        .with_state(shared)
}

fn record(shared: &Shared, path: &str, headers: &HeaderMap, body: Value, reply: &str) {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Ok(mut requests) = shared.requests.lock() {
        requests.push(RecordedRequest {
            method: if path.contains("models") {
                "GET"
            } else {
                "POST"
            }
            .to_owned(),
            path: path.to_owned(),
            authorization,
            body,
            reply: reply.to_owned(),
        });
    }
}

async fn list_requests(State(shared): State<Arc<Shared>>) -> Json<Vec<RecordedRequest>> {
    Json(
        shared
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default(),
    )
}

async fn clear_requests(State(shared): State<Arc<Shared>>) -> StatusCode {
    if let Ok(mut requests) = shared.requests.lock() {
        requests.clear();
    }
    StatusCode::NO_CONTENT
}

async fn models(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Json<Value> {
    record(&shared, "/v1/models", &headers, Value::Null, "-");
    Json(json!({
        "object": "list",
        "data": [{ "id": shared.script.model, "object": "model", "created": 0, "owned_by": "krill-stand-in" }],
    }))
}

/// The `write` tool's argument names, read from the tool definition the client sent, so the
/// stand-in follows the client's schema instead of guessing it.
fn write_tool_arguments(body: &Value) -> Option<(String, String)> {
    let tools = body.get("tools")?.as_array()?;
    let write = tools
        .iter()
        .find(|t| t.pointer("/function/name").and_then(Value::as_str) == Some("write"))?;
    let properties = write
        .pointer("/function/parameters/properties")?
        .as_object()?;
    let pick = |candidates: &[&str]| {
        candidates
            .iter()
            .find(|c| properties.contains_key(**c))
            .map(|c| (*c).to_owned())
    };
    Some((
        pick(&["path", "file_path", "filePath", "file"])?,
        pick(&["content", "contents", "text", "data"])?,
    ))
}

enum Reply {
    ToolCall { name: String, arguments: String },
    Text(String),
}

fn decide(script: &Script, body: &Value) -> Reply {
    // Answered tool call = the last assistant message is followed by a tool result. OpenClaw
    // appends its own internal-context user message after the result, so "the last message is a
    // tool result" would loop forever.
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let role = |m: &Value| m.get("role").and_then(Value::as_str).map(str::to_owned);
    let last_assistant = messages
        .iter()
        .rposition(|m| role(m).as_deref() == Some("assistant"));
    if let Some(index) = last_assistant
        && messages[index + 1..]
            .iter()
            .any(|m| role(m).as_deref() == Some("tool"))
    {
        return Reply::Text(script.final_text.clone());
    }
    match write_tool_arguments(body) {
        Some((path_key, content_key)) => Reply::ToolCall {
            name: "write".to_owned(),
            arguments: json!({ path_key: script.file_path, content_key: script.file_content })
                .to_string(),
        },
        None => Reply::Text(script.final_text.clone()),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

async fn chat_completions(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let Ok(body) = serde_json::from_str::<Value>(&body) else {
        let error = json!({ "error": { "message": "request body is not JSON", "type": "invalid_request_error" } });
        return (StatusCode::BAD_REQUEST, Json(error)).into_response();
    };
    let reply = decide(&shared.script, &body);
    record(
        &shared,
        "/v1/chat/completions",
        &headers,
        body.clone(),
        match reply {
            Reply::ToolCall { .. } => "tool_call",
            Reply::Text(_) => "text",
        },
    );
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or(&shared.script.model)
        .to_owned();
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let include_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let id = format!(
        "chatcmpl-stand-in-{}",
        shared.requests.lock().map(|r| r.len()).unwrap_or(0)
    );
    let usage = json!({ "prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15 });
    if stream {
        let chunk = |delta: Value, finish: Value| {
            json!({ "id": id, "object": "chat.completion.chunk", "created": now(), "model": model,
                    "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }] })
        };
        let mut events = vec![chunk(
            json!({ "role": "assistant", "content": "" }),
            Value::Null,
        )];
        let finish = match &reply {
            Reply::ToolCall { name, arguments } => {
                events.push(chunk(
                    json!({ "tool_calls": [{ "index": 0, "id": "call_stand_in_1", "type": "function",
                                             "function": { "name": name, "arguments": arguments } }] }),
                    Value::Null,
                ));
                "tool_calls"
            }
            Reply::Text(text) => {
                events.push(chunk(json!({ "content": text }), Value::Null));
                "stop"
            }
        };
        events.push(chunk(json!({}), json!(finish)));
        if include_usage {
            events.push(json!({ "id": id, "object": "chat.completion.chunk", "created": now(), "model": model,
                                "choices": [], "usage": usage }));
        }
        let mut text = String::new();
        for event in events {
            text.push_str("data: ");
            text.push_str(&event.to_string());
            text.push_str("\n\n");
        }
        text.push_str("data: [DONE]\n\n");
        return (
            [
                (header::CONTENT_TYPE, "text/event-stream"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            text,
        )
            .into_response();
    }
    let (message, finish) = match reply {
        Reply::ToolCall { name, arguments } => (
            json!({ "role": "assistant", "content": null, "tool_calls": [{ "id": "call_stand_in_1", "type": "function",
                    "function": { "name": name, "arguments": arguments } }] }),
            "tool_calls",
        ),
        Reply::Text(text) => (json!({ "role": "assistant", "content": text }), "stop"),
    };
    Json(json!({
        "id": id, "object": "chat.completion", "created": now(), "model": model,
        "choices": [{ "index": 0, "message": message, "finish_reason": finish }],
        "usage": usage,
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn write_tool(path_key: &str) -> Value {
        json!([{ "type": "function", "function": { "name": "write", "parameters": {
            "type": "object", "properties": { path_key: { "type": "string" }, "content": { "type": "string" } } } } }])
    }

    #[rstest]
    #[case("path")]
    #[case("file_path")]
    fn first_turn_calls_write_with_the_clients_argument_names(#[case] key: &str) {
        let body =
            json!({ "messages": [{ "role": "user", "content": "hi" }], "tools": write_tool(key) });
        let Reply::ToolCall { name, arguments } = decide(&Script::default(), &body) else {
            panic!("expected a tool call")
        };
        assert_eq!(name, "write");
        let args: Value = serde_json::from_str(&arguments).expect("json");
        assert_eq!(args[key], "krill-stand-in.txt");
        assert_eq!(args["content"], Script::default().file_content);
    }

    #[test]
    fn after_the_tool_result_it_answers_in_text() {
        // The shape OpenClaw 2026.9.6 sends: its internal-context user message follows the result.
        let body = json!({ "messages": [
            { "role": "user", "content": "hi" },
            { "role": "assistant", "content": null, "tool_calls": [] },
            { "role": "tool", "content": "ok" },
            { "role": "user", "content": "<<<BEGIN_OPENCLAW_INTERNAL_CONTEXT>>>" }],
            "tools": write_tool("path") });
        assert!(
            matches!(decide(&Script::default(), &body), Reply::Text(t) if t == Script::default().final_text)
        );
        // A new user turn after the final answer starts the script again.
        let mut next = body.clone();
        let messages = next["messages"].as_array_mut().expect("messages");
        messages.push(json!({ "role": "assistant", "content": "Done" }));
        messages.push(json!({ "role": "user", "content": "again" }));
        assert!(matches!(
            decide(&Script::default(), &next),
            Reply::ToolCall { .. }
        ));
    }

    #[test]
    fn without_a_write_tool_it_answers_in_text() {
        let body = json!({ "messages": [{ "role": "user", "content": "hi" }] });
        assert!(matches!(decide(&Script::default(), &body), Reply::Text(_)));
    }
}
