//! Port-forwards to a krill's gateway through the API server (the `portforward` subresource),
//! as `kubectl port-forward` does: one stream per connection, no route into the cluster needed.

use std::net::SocketAddr;
use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

use crate::error::{CliError, kube_message};
use crate::krills::Krill;
use crate::target::Target;

/// The chart's gateway port (charts/krill/values.yaml `port`, docs/pod-contract.md).
pub const GATEWAY_PORT: u16 = 18789;

fn failed(krill: &Krill, detail: String) -> CliError {
    CliError::Gateway {
        name: krill.name.clone(),
        detail,
    }
}

/// One forwarded connection: the stream, the forwarder that must live as long as it, and what
/// the kubelet said when the forward failed (a stream that just closes says nothing).
pub struct Forward<S> {
    pub stream: S,
    pub forwarder: kube::api::Portforwarder,
    pub error: BoxFuture<'static, Option<String>>,
}

impl<S> Forward<S> {
    /// The kubelet's error for this forward, if it sends one soon.
    pub async fn error_message(error: BoxFuture<'static, Option<String>>) -> Option<String> {
        tokio::time::timeout(Duration::from_secs(2), error)
            .await
            .ok()
            .flatten()
    }
}

/// One connection to the krill's gateway port.
pub async fn open(
    target: &Target,
    krill: &Krill,
) -> Result<Forward<impl AsyncRead + AsyncWrite + Unpin + use<>>, CliError> {
    let pod = krill.running_pod(target.namespace())?;
    let pod_name = pod.metadata.name.clone().unwrap_or_default();
    let mut forwarder = Api::<Pod>::namespaced(target.client.clone(), target.namespace())
        .portforward(&pod_name, &[GATEWAY_PORT])
        .await
        .map_err(|e| {
            failed(
                krill,
                format!(
                    "cannot port-forward to pod {pod_name} port {GATEWAY_PORT}: {}",
                    kube_message(&e)
                ),
            )
        })?;
    let stream = forwarder
        .take_stream(GATEWAY_PORT)
        .ok_or_else(|| failed(krill, "the port-forward gave no stream".into()))?;
    let error: BoxFuture<'static, Option<String>> = match forwarder.take_error(GATEWAY_PORT) {
        Some(future) => Box::pin(future),
        None => Box::pin(futures::future::ready(None)),
    };
    Ok(Forward {
        stream,
        forwarder,
        error,
    })
}

/// Listens on `127.0.0.1:<port>` (0: any free port) and forwards every connection to the
/// krill's gateway until interrupted; `ready` gets the address once listening.
pub async fn serve(
    target: &Target,
    krill: &Krill,
    port: u16,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), CliError> {
    // Fail now, not at the first connection, if the krill cannot be reached.
    krill.running_pod(target.namespace())?;
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| failed(krill, format!("cannot listen on 127.0.0.1:{port}: {e}")))?;
    let address = listener
        .local_addr()
        .map_err(|e| failed(krill, format!("no local address: {e}")))?;
    ready(address);
    loop {
        let (mut client, _) = tokio::select! {
            accepted = listener.accept() => accepted
                .map_err(|e| failed(krill, format!("accepting a connection: {e}")))?,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let (target, krill) = (target.clone(), krill.clone());
        tokio::spawn(async move {
            match open(&target, &krill).await {
                Ok(Forward {
                    mut stream,
                    forwarder,
                    error,
                }) => {
                    let copied = tokio::io::copy_bidirectional(&mut client, &mut stream).await;
                    drop(stream);
                    if let Some(message) = Forward::<()>::error_message(error).await {
                        eprintln!(
                            "kubectl krill: krill {}: port-forward failed: {message}",
                            krill.name
                        );
                    } else if let Err(e) = copied {
                        eprintln!("kubectl krill: krill {}: connection ended: {e}", krill.name);
                    }
                    let _ = forwarder.join().await;
                }
                Err(e) => eprintln!("kubectl krill: {e}"),
            }
        });
    }
}
