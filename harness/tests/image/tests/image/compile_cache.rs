//! The Node compile cache the image seeds into a new pod's /tmp (harness/helper/src/
//! compile_cache.rs): a krill starts and answers a turn with the image's seed, without one, and
//! with one whose every entry is corrupt. How much faster the seed makes a start is measured in
//! scripts/bench/image.sh, not here.

use std::collections::BTreeSet;

use krill_image_tests::docker::{self, Volume, describe};
use krill_image_tests::krill::{Pod, PodSpec};
use krill_image_tests::stack::{self, ModelStack};
use krill_image_tests::{Settings, unique_name};
use krill_stand_in::Script;
use testcontainers::ImageExt;
use testcontainers::core::{AccessMode, Mount};

const SEED: &str = "/opt/krill/node-compile-cache";
const CACHE: &str = "/tmp/node-compile-cache";

fn settings() -> Settings {
    Settings::from_env().unwrap_or_else(|error| panic!("{error}"))
}

/// The cache's key directories (`openclaw/<version>/<package.json stamp>/<node, flags, uid>`),
/// which is what tells whether a start looked its entries up where the seed put them.
async fn keys(pod: &Pod, dir: &str) -> anyhow::Result<BTreeSet<String>> {
    let (code, out, err) = pod
        .exec(&[
            "sh",
            "-c",
            &format!("cd {dir} && find . -mindepth 4 -maxdepth 4 -type d"),
        ])
        .await?;
    anyhow::ensure!(code == 0, "listing {dir}: {err}");
    Ok(out.lines().map(str::to_owned).collect())
}

fn spec<'a>(
    settings: &'a Settings,
    stack: &'a ModelStack,
    token: &'a str,
    volume: &'a Volume,
) -> PodSpec<'a> {
    PodSpec {
        image: &settings.krill_image,
        network: &stack.network,
        proxy_url: &stack.proxy_url,
        volume: &volume.name,
        krill_name: "krill-0",
        gateway_token: token,
        init_claw: None,
        force_restore: false,
    }
}

/// Ready, then one agent turn answered through the proxy.
async fn answers(pod: &Pod) -> anyhow::Result<()> {
    pod.wait_ready().await?;
    let reply = pod
        .chat("Write a note into the workspace, then tell me you did.")
        .await?;
    let text = reply["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default();
    anyhow::ensure!(
        text.trim() == Script::default().final_text,
        "unexpected answer: {reply}\n{}",
        stack::logs(&pod.container).await
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_krill_starts_and_answers_with_the_compile_cache_seed_present_absent_and_corrupt()
-> anyhow::Result<()> {
    let settings = settings();
    let stack = ModelStack::start(&settings).await?;
    let token = unique_name("gateway-token");
    let data = (0..3)
        .map(|_| Volume::create(unique_name("krill-it-data")))
        .collect::<anyhow::Result<Vec<_>>>()?;

    // Present: copied into /tmp, and the gateway found its entries under the seed's keys (a new
    // key beside them would mean Node computed another one, and the seed was dead weight).
    let present = spec(&settings, &stack, &token, &data[0]);
    let pod = present.start().await?;
    answers(&pod).await?;
    let logs = stack::logs(&pod.container).await;
    assert!(logs.contains("krill: compile cache seeded ("), "{logs}");
    let seeded = keys(&pod, SEED).await?;
    assert!(
        !seeded.is_empty(),
        "the image has no compile cache seed at {SEED}"
    );
    assert_eq!(
        keys(&pod, CACHE).await?,
        seeded,
        "the gateway's compile cache keys differ from the seed's"
    );
    pod.container.rm().await?;

    // Absent: said, and the gateway compiles as OpenClaw does alone.
    let absent = spec(&settings, &stack, &token, &data[1]);
    let pod = absent
        .start_request(
            absent
                .request()
                .with_env_var("KRILL_COMPILE_CACHE_SEED", "/nonexistent"),
        )
        .await?;
    answers(&pod).await?;
    let logs = stack::logs(&pod.container).await;
    assert!(
        logs.contains("krill: no compile cache seed in the image"),
        "{logs}"
    );
    pod.container.rm().await?;

    // Corrupt: the seed's files under the seed's keys, every byte random. Node checks each
    // entry and compiles again where one does not match.
    let corrupt = Volume::create(unique_name("krill-it-seed"))?;
    let out = docker::run(&[
        "run",
        "--rm",
        "--user",
        "0",
        "-v",
        &format!("{}:/corrupt", corrupt.name),
        "--entrypoint",
        "sh",
        &settings.krill_image,
        "-c",
        &format!(
            "cp -R {SEED}/. /corrupt/ && find /corrupt -type f | while read -r f; do \
             head -c \"$(stat -c %s \"$f\")\" /dev/urandom >\"$f\"; done && \
             find /corrupt -type f | wc -l"
        ),
    ])?;
    assert!(
        out.status.success(),
        "corrupting a copy of the seed: {}",
        describe(&out)
    );
    let files: u64 = String::from_utf8_lossy(&out.stdout).trim().parse()?;
    assert!(files > 0, "no entries to corrupt: {}", describe(&out));
    let stale = spec(&settings, &stack, &token, &data[2]);
    let pod = stale
        .start_request(stale.request().with_mount(
            Mount::volume_mount(&corrupt.name, SEED).with_access_mode(AccessMode::ReadOnly),
        ))
        .await?;
    answers(&pod).await?;
    let logs = stack::logs(&pod.container).await;
    assert!(
        logs.contains(&format!("krill: compile cache seeded ({files} files")),
        "{logs}"
    );
    pod.container.rm().await?;
    drop(stack);
    Ok(())
}
