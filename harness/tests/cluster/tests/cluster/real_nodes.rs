//! What only nodes that run containers can show (provider `kind`, or an existing cluster with real
//! nodes): the real gateway passes the chart's startup, readiness and liveness probes, krills
//! reach each other by their stable DNS names from inside the cluster, each gateway enforces its
//! own token, the chart's `helm test` passes, and an agent turn runs end to end inside the
//! cluster (krill -> the chart's LiteLLM proxy -> the stand-in model, whose `write` tool call
//! lands on the krill's volume). On simulated nodes (kwok) every test here says
//! NOT RUN (krill_test_support::not_run) before installing anything, and does not count as passed.

use crate::in_pod::{
    EXEC, GATEWAY_PORT, chat_in_pod, fetch_in_pod, gateway_token, no_container_restarted,
    real_nodes, with_stand_in_model,
};
use crate::support;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use k8s_openapi::api::core::v1::{Event, Pod, Probe as PodProbe};
use krill_cluster::{Probe, TestRelease, Values, poll};
use kube::api::ListParams;
use rstest::rstest;
use serde_json::Value;
use support::{
    DNS, Fleet, KRILL_PODS, ROLLOUT, pod_uid, release, wait_for_fleet, wait_for_pod_uid_change,
};

/// Two fleet krills and the named krill `alice`: every kind of StatefulSet the chart makes.
fn two_plus_one() -> (Fleet, &'static str) {
    (
        Fleet::new(2, &["alice"]),
        "replicas: 2\nkrills:\n  alice: {}\n",
    )
}

fn http_get_path(probe: Option<&PodProbe>) -> Option<(String, String)> {
    let get = probe?.http_get.as_ref()?;
    let port = match &get.port {
        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(n) => n.to_string(),
        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s) => s.clone(),
    };
    Some((get.path.clone().unwrap_or_default(), port))
}

/// The pod's krill container: its probes must be the chart's httpGet endpoints on the gateway,
/// so that Ready below means OpenClaw itself answered them.
async fn check_krill_container(release: &TestRelease, pod: &Pod) -> anyhow::Result<()> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let spec = pod.spec.as_ref().context("pod without spec")?;
    let krill = spec
        .containers
        .iter()
        .find(|c| c.name == "krill")
        .with_context(|| format!("{name} has no container `krill`"))?;
    for (kind, probe, path) in [
        ("startup", krill.startup_probe.as_ref(), "/startupz"),
        ("readiness", krill.readiness_probe.as_ref(), "/startupz"),
        ("liveness", krill.liveness_probe.as_ref(), "/healthz"),
    ] {
        ensure!(
            http_get_path(probe) == Some((path.to_owned(), "gateway".to_owned())),
            "{name}: the {kind} probe is not httpGet {path} on the gateway port: {probe:?}"
        );
    }
    no_container_restarted(release, pod).await?;
    // What Pod Security "restricted" and the pod contract ask of a running container, seen from
    // inside: user and group 1000, and a root filesystem nothing can write to.
    for container in ["krill", "snapshot"] {
        let who = release
            .exec(
                &name,
                Some(container),
                &["sh", "-c", "id -u; id -g; touch /krill-probe 2>&1; echo $?"],
                EXEC,
            )
            .await?
            .require_success(&name, &["id; touch /krill-probe"])?;
        let lines: Vec<&str> = who.stdout.lines().collect();
        ensure!(
            lines.first() == Some(&"1000") && lines.get(1) == Some(&"1000"),
            "{name}/{container} does not run as 1000:1000: {lines:?}"
        );
        ensure!(
            who.stdout.contains("Read-only file system") && lines.last() != Some(&"0"),
            "{name}/{container} can write to its root filesystem: {lines:?}"
        );
    }
    Ok(())
}

#[rstest]
#[tokio::test]
async fn every_krill_passes_its_real_probes_and_helm_test_reaches_them_all(
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    if !real_nodes(
        &release,
        "the gateway's startup, readiness and liveness probes",
    )
    .await?
    {
        return Ok(());
    }
    let (fleet, values) = two_plus_one();
    // A short liveness period, so liveness has probed several times within the wait below.
    let values = Values::new()
        .yaml(values)
        .yaml("probes:\n  liveness: {periodSeconds: 5}\n");
    release.install(&values).await?;
    wait_for_fleet(&release, &fleet).await?;

    // Each endpoint the probes use really says ready from inside the pod: OpenClaw's catch-all
    // answers 200 to any path, so the body is what counts.
    for pod in fleet.pod_names() {
        for path in ["/startupz", "/readyz", "/healthz"] {
            let url = format!("http://127.0.0.1:{GATEWAY_PORT}{path}");
            let (status, body) = fetch_in_pod(&release, &pod, &url, None).await?;
            let json: Value = serde_json::from_str(&body).with_context(|| {
                format!("{pod} {path}: not JSON (catch-all page?): {body:.200}")
            })?;
            let healthy = json["ready"] == true || json["ok"] == true;
            ensure!(
                status == 200 && healthy,
                "{pod} {path}: HTTP {status} {body:.300}"
            );
        }
    }

    // Liveness keeps passing: three liveness periods later no container restarted and no
    // liveness failure was recorded.
    tokio::time::sleep(Duration::from_secs(15)).await;
    let pods =
        krill_cluster::pods_matching(&release.client(), release.namespace(), KRILL_PODS).await?;
    let names: Vec<String> = pods
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    ensure!(
        names
            .iter()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
            == fleet.pod_names(),
        "krill pods {names:?}"
    );
    for pod in &pods {
        ensure!(
            support::is_ready(pod),
            "{:?} is no longer Ready",
            pod.metadata.name
        );
        check_krill_container(&release, pod).await?;
    }
    let events = release
        .api::<Event>()
        .list(&ListParams::default().fields("reason=Unhealthy"))
        .await?;
    let liveness: Vec<String> = events
        .items
        .iter()
        .filter_map(|e| e.message.clone())
        .filter(|m| m.starts_with("Liveness"))
        .collect();
    ensure!(liveness.is_empty(), "liveness probes failed: {liveness:?}");

    // The chart's own test reaches every krill, fleet and named, by its DNS name: its pod exits
    // 0 only when every URL the chart lists (one per krill, checked by the chart tests) answered
    // ready.
    let out = release.helm_test().await?;
    ensure!(
        out.stdout.contains("Phase:") && out.stdout.contains("Succeeded"),
        "helm test did not report success:\n{}",
        out.stdout
    );
    Ok(())
}

/// From inside `from`: `host` resolves (through the pod's own resolver, i.e. the cluster DNS) to
/// `ip`. Waits, since DNS follows the EndpointSlices.
async fn resolves_in_pod(
    release: &TestRelease,
    from: &str,
    host: &str,
    ip: IpAddr,
) -> anyhow::Result<()> {
    const SCRIPT: &str = r#"
import { lookup } from "node:dns/promises";
try { console.log((await lookup(process.argv[1], { family: 4 })).address); }
catch (err) { console.log(`unresolved: ${err.code || err}`); }
"#;
    let what = format!("{host} to resolve to {ip} inside {from}");
    poll(&what, DNS, || async {
        let out = release
            .exec(
                from,
                Some("krill"),
                &["node", "--input-type=module", "-e", SCRIPT, host],
                EXEC,
            )
            .await?;
        let got = out.stdout.trim().to_owned();
        Ok(if got == ip.to_string() {
            Probe::Ready(())
        } else {
            Probe::Pending(format!("{got} {}", out.stderr.trim()))
        })
    })
    .await?;
    Ok(())
}

#[rstest]
#[tokio::test]
async fn from_krill_0_other_krills_resolve_and_their_gateways_check_tokens(
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    if !real_nodes(&release, "DNS and gateway calls from inside a krill pod").await? {
        return Ok(());
    }
    let (fleet, values) = two_plus_one();
    // Krills are kept apart by the chart's NetworkPolicy; this test opens krill -> krill on the
    // gateway port for itself, so it checks DNS and tokens whether or not policies are enforced.
    let krills = "{podSelector: {matchLabels: {app.kubernetes.io/instance: krill, \
                  app.kubernetes.io/component: krill}}}";
    let values = Values::new().yaml(values).yaml(format!(
        "networkPolicy:\n  ingressFrom: [{krills}]\n  extraEgress:\n    - to: [{krills}]\n      \
         ports: [{{port: {GATEWAY_PORT}, protocol: TCP}}]\n"
    ));
    release.install(&values).await?;
    let ips: BTreeMap<String, IpAddr> = wait_for_fleet(&release, &fleet).await?;
    let ns = release.namespace().to_owned();

    let targets = [
        (
            "krill-1",
            format!("krill-1.krill.{ns}.svc.cluster.local"),
            gateway_token(&release, "krill-1-gateway-token", "gateway-token").await?,
        ),
        (
            "krill-alice-0",
            format!("krill-alice.{ns}.svc.cluster.local"),
            gateway_token(&release, "krill-alice-secrets", "gateway-token").await?,
        ),
    ];
    for (pod, host, token) in &targets {
        let ip = *ips.get(*pod).with_context(|| format!("no IP for {pod}"))?;
        resolves_in_pod(&release, "krill-0", host, ip).await?;

        // `/v1/models` needs the gateway token and runs no model call.
        let url = format!("http://{host}:{GATEWAY_PORT}/v1/models");
        let (status, body) = fetch_in_pod(&release, "krill-0", &url, Some(token)).await?;
        let listed: Value = serde_json::from_str(&body).unwrap_or_default();
        ensure!(
            status == 200 && listed["object"] == "list",
            "{pod} refused its own token: HTTP {status} {body:.300}"
        );
        let wrong = format!("{token}-not");
        let (status, body) = fetch_in_pod(&release, "krill-0", &url, Some(&wrong)).await?;
        ensure!(
            status == 401,
            "{pod} accepted a wrong token: HTTP {status} {body:.300}"
        );
        let (status, body) = fetch_in_pod(&release, "krill-0", &url, None).await?;
        ensure!(
            status == 401,
            "{pod} answered without a token: HTTP {status} {body:.300}"
        );
    }
    // krill-0's own token is not krill-1's: fleet pods share a template, not a token.
    let own = gateway_token(&release, "krill-0-gateway-token", "gateway-token").await?;
    let url = format!("http://{}:{GATEWAY_PORT}/v1/models", targets[0].1);
    let (status, _) = fetch_in_pod(&release, "krill-0", &url, Some(&own)).await?;
    ensure!(
        status == 401,
        "krill-1 accepted krill-0's token: HTTP {status}"
    );
    Ok(())
}

/// Where a secret could show up in a running container: every process environment it can read
/// and every file under the places the chart mounts or a process writes (secret volumes are
/// symlinks, hence `grep -R`). Prints one line per place holding `$1`.
const FIND_SECRET: &str = r#"
needle=$1
for f in /proc/[0-9]*/environ; do
  if tr '\0' '\n' <"$f" 2>/dev/null | grep -qF -- "$needle"; then echo "environ $f"; fi
done
grep -RlsF -- "$needle" /krill /home/krill /tmp /etc /var/run/secrets 2>/dev/null | sed 's/^/file /'
exit 0
"#;

async fn places_holding(
    release: &TestRelease,
    pod: &str,
    container: &str,
    needle: &str,
) -> anyhow::Result<Vec<String>> {
    let command = ["sh", "-c", FIND_SECRET, "find-secret", needle];
    let out = release
        .exec(pod, Some(container), &command, EXEC)
        .await?
        .require_success(pod, &["sh", "-c", "<find-secret>"])?;
    Ok(out.stdout.lines().map(str::to_owned).collect())
}

#[rstest]
#[tokio::test]
async fn no_provider_key_is_visible_in_any_krill_container(
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    if !real_nodes(&release, "searching running krill containers for keys").await? {
        return Ok(());
    }
    let (fleet, values) = two_plus_one();
    let provider_key = format!("sk-provider-{}", release.namespace());
    let values = Values::new().yaml(values).yaml(format!(
        "apiServer:\n  providerKeys:\n    OPENAI_API_KEY: {provider_key}\n"
    ));
    release.install(&values).await?;
    wait_for_fleet(&release, &fleet).await?;

    // The search finds what is there: the proxy holds the provider key in its environment.
    let proxies = krill_cluster::pods_matching(
        &release.client(),
        release.namespace(),
        "app.kubernetes.io/instance=krill,app.kubernetes.io/component=api-server",
    )
    .await?;
    let proxy = proxies
        .iter()
        .find(|p| support::is_ready(p))
        .and_then(|p| p.metadata.name.clone());
    let proxy = match proxy {
        Some(name) => name,
        None => bail!("no Ready proxy pod: {proxies:?}"),
    };
    let found = places_holding(&release, &proxy, "litellm", &provider_key).await?;
    ensure!(
        found.iter().any(|l| l.starts_with("environ ")),
        "the provider key is not in the proxy's environment, so the search proves nothing: {found:?}"
    );

    for pod in fleet.pod_names() {
        // And it finds a krill's own secret: its gateway token, in the gateway's environment
        // (`krill run` hands over what the keeper answered; no file holds it).
        let (secret, key) = match pod
            .strip_suffix("-0")
            .and_then(|p| p.strip_prefix("krill-"))
        {
            Some(name) if fleet.named.iter().any(|n| n == name) => {
                (format!("krill-{name}-secrets"), "gateway-token".to_owned())
            }
            _ => (format!("{pod}-gateway-token"), "gateway-token".to_owned()),
        };
        let token = gateway_token(&release, &secret, &key).await?;
        let own = places_holding(&release, &pod, "krill", &token).await?;
        ensure!(
            own.iter().any(|l| l.starts_with("environ ")),
            "{pod}: its own token was not found in a process environment, so the search proves \
             nothing: {own:?}"
        );
        for container in ["krill", "snapshot"] {
            let leaks = places_holding(&release, &pod, container, &provider_key).await?;
            ensure!(
                leaks.is_empty(),
                "{pod}/{container}: the provider key is visible in {leaks:?}"
            );
        }
    }
    Ok(())
}

/// This krill's archives, newest last (names sort by their timestamp), as the sidecar sees them.
async fn snapshots_of(
    release: &TestRelease,
    pod: &str,
) -> Result<Vec<String>, krill_cluster::ClusterError> {
    let out = release
        .exec(
            pod,
            Some("snapshot"),
            &["sh", "-c", "ls /krill/snapshots | grep '\\.claw$' || true"],
            EXEC,
        )
        .await?
        .require_success(pod, &["ls", "/krill/snapshots"])?;
    let mut names: Vec<String> = out.stdout.lines().map(str::to_owned).collect();
    names.sort();
    Ok(names)
}

#[rstest]
#[tokio::test]
async fn the_snapshot_sidecar_writes_soon_after_start_at_low_priority_and_once_more_on_shutdown(
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    if !real_nodes(&release, "the snapshot sidecar in a running pod").await? {
        return Ok(());
    }
    let fleet = Fleet::new(1, &[]);
    let values = |first_after: &str| {
        Values::new().yaml(format!(
            "replicas: 1\nsnapshots:\n  interval: 1h\n  firstAfter: {first_after}\n"
        ))
    };
    release.install(&values("5s")).await?;
    wait_for_fleet(&release, &fleet).await?;

    // The first snapshot comes seconds after start, not an interval later.
    let first = poll(
        "krill-0's first snapshot",
        Duration::from_secs(180),
        || async {
            let names = snapshots_of(&release, "krill-0").await?;
            Ok(match names.as_slice() {
                [] => Probe::Pending("no archive yet".into()),
                found => Probe::Ready(found.to_vec()),
            })
        },
    )
    .await?;
    ensure!(first.len() == 1, "one first snapshot expected: {first:?}");
    ensure!(
        first[0].starts_with("krill-0-"),
        "archives are named after the krill: {first:?}"
    );

    // The loop runs at niceness 10 so a snapshot yields to the gateway.
    let nice = release
        .exec(
            "krill-0",
            Some("snapshot"),
            &[
                "sh",
                "-c",
                "for d in /proc/[0-9]*; do \
                   if tr '\\0' ' ' < $d/cmdline 2>/dev/null | grep -q '^krill snapshot'; then \
                     cut -d' ' -f19 $d/stat; fi; done",
            ],
            EXEC,
        )
        .await?
        .require_success("krill-0", &["find the snapshot process"])?;
    ensure!(
        nice.stdout.trim() == "10",
        "the snapshot loop's niceness is {:?}, not 10",
        nice.stdout
    );

    // The agent changes its workspace; the pod is replaced (an upgrade rolls it, SIGTERM): the
    // sidecar's last snapshot on the way out carries the change. The new pod waits an hour for
    // its own first snapshot, so every archive below was written by the old pod.
    release
        .exec(
            "krill-0",
            Some("krill"),
            &[
                "sh",
                "-c",
                "echo changed > /krill/data/workspace/after-first-snapshot.txt",
            ],
            EXEC,
        )
        .await?
        .require_success("krill-0", &["write a workspace file"])?;
    let old_uid = pod_uid(&release, "krill-0").await?;
    release.upgrade(&values("1h")).await?;
    wait_for_pod_uid_change(&release, "krill-0", old_uid.as_deref(), false).await?;
    wait_for_fleet(&release, &fleet).await?;
    let after = snapshots_of(&release, "krill-0").await?;
    ensure!(
        after.len() == 2 && after[0] == first[0],
        "the first snapshot and one written on shutdown expected: {after:?}"
    );
    let last = format!("/krill/snapshots/{}", after[1]);
    let has_file = release
        .exec(
            "krill-0",
            Some("snapshot"),
            &["grep", "-c", "after-first-snapshot.txt", &last],
            EXEC,
        )
        .await?;
    ensure!(
        has_file.success(),
        "{last} does not carry the workspace change made before shutdown"
    );
    Ok(())
}

#[rstest]
#[tokio::test]
async fn an_agent_turn_reaches_the_stand_in_through_the_proxy_and_writes_to_the_volume(
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    if !real_nodes(&release, "an agent turn through the proxy").await? {
        return Ok(());
    }
    let client = release.client();
    let ns = release.namespace().to_owned();
    let values = with_stand_in_model(&release).await?.yaml("replicas: 1\n");
    release.install(&values).await?;
    wait_for_fleet(&release, &Fleet::new(1, &[])).await?;
    krill_cluster::wait_for_deployment_ready(&client, &ns, "krill-api-server", ROLLOUT).await?;

    let token = gateway_token(&release, "krill-0-gateway-token", "gateway-token").await?;
    let (status, body) = chat_in_pod(
        &release,
        "krill-0",
        &token,
        None,
        "Write a note into the workspace, then tell me you did.",
    )
    .await?;
    ensure!(
        status == 200,
        "the turn answered HTTP {status}: {body:.1000}"
    );
    let reply: Value =
        serde_json::from_str(&body).with_context(|| format!("the turn's body: {body:.1000}"))?;
    // The stand-in's default script (what its image runs): first a `write` tool call, then this
    // text once the tool result comes back.
    let script = krill_stand_in::Script::default();
    let text = reply["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default();
    ensure!(
        text.trim() == script.final_text,
        "unexpected final answer: {reply}"
    );

    // The tool call ran in the krill and its file is on the krill's volume.
    let path = format!("/krill/data/workspace/{}", script.file_path);
    let out = release
        .exec("krill-0", Some("krill"), &["cat", &path], EXEC)
        .await?
        .require_success("krill-0", &["cat", &path])?;
    ensure!(
        out.stdout == script.file_content,
        "{path} holds {:?}",
        out.stdout
    );
    Ok(())
}

/// A request from inside `pod` with the image's Node, as an agent's tool would make it: (HTTP
/// status, body). The API server's certificate is not checked: what matters is its answer.
async fn request_in_pod(
    release: &TestRelease,
    pod: &str,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> anyhow::Result<(u16, String)> {
    const SCRIPT: &str = r#"
process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";
const [method, url, token, body] = process.argv.slice(1);
const headers = { "content-type": "application/json" };
if (token) headers.authorization = `Bearer ${token}`;
try {
  const res = await fetch(url, { method, headers, body: body || undefined, signal: AbortSignal.timeout(10000) });
  console.log(JSON.stringify({ status: res.status, body: await res.text() }));
} catch (err) {
  console.log(JSON.stringify({ error: String(err && err.cause ? err.cause : err) }));
}
"#;
    let command = [
        "node",
        "--no-warnings",
        "--input-type=module",
        "-e",
        SCRIPT,
        method,
        url,
        token.unwrap_or(""),
        body.unwrap_or(""),
    ];
    let out = release
        .exec(pod, Some("krill"), &command, EXEC)
        .await?
        .require_success(pod, &["node", "-e", "<request>", method, url])?;
    let reply: Value = serde_json::from_str(out.stdout.trim())
        .with_context(|| format!("request in {pod} printed no JSON: {out:?}"))?;
    if let Some(error) = reply["error"].as_str() {
        bail!("{method} {url} from {pod} failed: {error}");
    }
    Ok((
        reply["status"].as_u64().unwrap_or_default() as u16,
        reply["body"].as_str().unwrap_or_default().to_owned(),
    ))
}

#[rstest]
#[tokio::test]
async fn krill_0_can_read_its_own_token_and_no_siblings(
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    if !real_nodes(&release, "looking for secrets from inside a krill pod").await? {
        return Ok(());
    }
    let (fleet, values) = two_plus_one();
    // Opened for this test only, so that the API server's own answer (not a NetworkPolicy) is
    // what refuses the pod's token.
    let values = Values::new().yaml(values).yaml(
        "networkPolicy:\n  extraEgress:\n    - ports: [{port: 443, protocol: TCP}, \
         {port: 6443, protocol: TCP}]\n",
    );
    release.install(&values).await?;
    wait_for_fleet(&release, &fleet).await?;
    let ns = release.namespace().to_owned();
    let own = gateway_token(&release, "krill-0-gateway-token", "gateway-token").await?;
    let sibling = gateway_token(&release, "krill-1-gateway-token", "gateway-token").await?;
    let named = gateway_token(&release, "krill-alice-secrets", "gateway-token").await?;
    ensure!(own != sibling && own != named, "two krills share a token");

    // Environment, every file under the usual places, every /proc/*/environ it can read: its own
    // token is there (the gateway's environment), no sibling's.
    let found = places_holding(&release, "krill-0", "krill", &own).await?;
    ensure!(
        found.iter().any(|l| l.starts_with("environ ")),
        "krill-0's own token is not in its gateway's environment: {found:?}"
    );
    for (whose, token) in [("krill-1", &sibling), ("krill-alice", &named)] {
        for container in ["krill", "snapshot"] {
            let leaks = places_holding(&release, "krill-0", container, token).await?;
            ensure!(
                leaks.is_empty(),
                "krill-0/{container} can read {whose}'s token at {leaks:?}"
            );
        }
    }

    // The only credential a krill pod holds is its keeper token: the API server refuses it.
    let projected = release
        .exec(
            "krill-0",
            Some("krill"),
            &["cat", "/krill/secrets/keeper/token"],
            EXEC,
        )
        .await?
        .require_success("krill-0", &["cat", "/krill/secrets/keeper/token"])?
        .stdout
        .trim()
        .to_owned();
    ensure!(!projected.is_empty(), "no keeper token in krill-0");
    let api = format!("https://kubernetes.default.svc/api/v1/namespaces/{ns}/secrets");
    let (status, body) =
        request_in_pod(&release, "krill-0", "GET", &api, Some(&projected), None).await?;
    ensure!(
        status == 401,
        "the API server accepted krill-0's keeper token: HTTP {status} {body:.300}"
    );

    // The keeper gives krill-0 its own credentials and refuses anything else.
    let keeper = format!("http://krill-keeper.{ns}.svc.cluster.local:8080/v1/credentials");
    let (status, body) = request_in_pod(
        &release,
        "krill-0",
        "POST",
        &keeper,
        Some(&projected),
        Some(r#"{"name":"krill-0"}"#),
    )
    .await?;
    let answer: Value = serde_json::from_str(&body).unwrap_or_default();
    ensure!(
        status == 200 && answer["gatewayToken"] == own.as_str() && answer["name"] == "krill-0",
        "the keeper did not give krill-0 its own token: HTTP {status}"
    );
    for asked in ["krill-1", "alice"] {
        let request = format!(r#"{{"name":"{asked}"}}"#);
        let (status, body) = request_in_pod(
            &release,
            "krill-0",
            "POST",
            &keeper,
            Some(&projected),
            Some(&request),
        )
        .await?;
        ensure!(
            status == 403
                && body.contains(asked)
                && !body.contains(&sibling)
                && !body.contains(&named),
            "the keeper did not refuse krill-0 asking for {asked}: HTTP {status} {body:.300}"
        );
    }
    let (status, body) =
        request_in_pod(&release, "krill-0", "POST", &keeper, None, Some("{}")).await?;
    ensure!(
        status == 401,
        "the keeper answered without a token: HTTP {status} {body:.300}"
    );
    let (status, body) = request_in_pod(
        &release,
        "krill-0",
        "POST",
        &keeper,
        Some(&format!("{projected}x")),
        Some("{}"),
    )
    .await?;
    ensure!(
        status == 401,
        "the keeper accepted a forged token: HTTP {status} {body:.300}"
    );
    Ok(())
}

#[rstest]
#[tokio::test]
async fn a_pod_scaled_past_replicas_gets_its_own_token(
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    use k8s_openapi::api::apps::v1::StatefulSet;
    use kube::api::{Patch, PatchParams};
    if !real_nodes(&release, "kubectl scale past the release's replicas").await? {
        return Ok(());
    }
    release
        .install(&Values::new().yaml("replicas: 1\n"))
        .await?;
    wait_for_fleet(&release, &Fleet::new(1, &[])).await?;
    // What `kubectl scale statefulset krill --replicas 2` (or an HPA) does: no Helm involved.
    release
        .api::<StatefulSet>()
        .patch_scale(
            "krill",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"replicas": 2}})),
        )
        .await
        .context("scaling StatefulSet krill to 2")?;
    wait_for_fleet(&release, &Fleet::new(2, &[])).await?;
    let first = gateway_token(&release, "krill-0-gateway-token", "gateway-token").await?;
    let added = gateway_token(&release, "krill-1-gateway-token", "gateway-token").await?;
    ensure!(first != added, "the added pod got krill-0's token");
    let found = places_holding(&release, "krill-1", "krill", &added).await?;
    ensure!(
        found.iter().any(|l| l.starts_with("environ ")),
        "krill-1's gateway does not hold its own token: {found:?}"
    );
    Ok(())
}

/// What Argo CD and Flux do: `helm template | kubectl apply`, where `lookup` finds nothing.
async fn template_and_apply(release: &TestRelease, values: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut sources: Vec<krill_test_support::ValueSource> = Vec::new();
    if let Some(base) = release.cluster().base_values() {
        sources.push(krill_test_support::ValueSource::File(base.to_owned()));
    }
    sources.push(krill_test_support::ValueSource::Yaml(values.to_owned()));
    let manifests = release
        .helm()
        .template("krill", release.namespace(), &sources)?;
    let kubectl = release.cluster().tools().find("kubectl")?;
    let kubeconfig = std::env::var("KRILL_KUBECONFIG").context("KRILL_KUBECONFIG")?;
    let mut child = std::process::Command::new(kubectl)
        .args([
            "--kubeconfig",
            &kubeconfig,
            "apply",
            "-n",
            release.namespace(),
            "-f",
            "-",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .context("kubectl stdin")?
        .write_all(manifests.as_bytes())?;
    let out = child.wait_with_output()?;
    ensure!(
        out.status.success(),
        "kubectl apply failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

#[rstest]
#[tokio::test]
async fn two_gitops_syncs_keep_every_token_and_key(
    #[future(awt)] release: TestRelease,
) -> anyhow::Result<()> {
    if !real_nodes(&release, "helm template | kubectl apply").await? {
        return Ok(());
    }
    let (fleet, values) = two_plus_one();
    template_and_apply(&release, values).await?;
    wait_for_fleet(&release, &fleet).await?;
    let held = [
        ("krill-0-gateway-token", "gateway-token"),
        ("krill-1-gateway-token", "gateway-token"),
        ("krill-alice-secrets", "gateway-token"),
        ("krill-master-key", "master-key"),
    ];
    let mut before = Vec::new();
    for (secret, key) in held {
        before.push(gateway_token(&release, secret, key).await?);
    }
    template_and_apply(&release, values).await?;
    // A krill restarted after the sync still gets, and is accepted with, the same token.
    let old_uid = pod_uid(&release, "krill-0").await?;
    release
        .api::<Pod>()
        .delete("krill-0", &Default::default())
        .await
        .context("deleting krill-0")?;
    wait_for_pod_uid_change(&release, "krill-0", old_uid.as_deref(), false).await?;
    wait_for_fleet(&release, &fleet).await?;
    for ((secret, key), old) in held.iter().zip(&before) {
        let now = gateway_token(&release, secret, key).await?;
        ensure!(&now == old, "{secret}/{key} changed across two syncs");
    }
    let url = format!("http://127.0.0.1:{GATEWAY_PORT}/v1/models");
    let (status, body) = fetch_in_pod(&release, "krill-0", &url, Some(&before[0])).await?;
    ensure!(
        status == 200,
        "restarted krill-0 refused its token after the syncs: HTTP {status} {body:.300}"
    );
    Ok(())
}
