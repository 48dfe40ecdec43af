use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{
    ConnectionConfig, LookupIpStrategy, NameServerConfig, ResolveHosts, ResolverConfig,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::{Resolver, TokioResolver};

use crate::{ClusterError, Probe, poll};

/// The DNS server answering for the cluster's `cluster.local` zone, queried directly (not through
/// the host's resolver, which knows nothing of the cluster).
#[derive(Debug, Clone)]
pub struct ClusterDns {
    server: SocketAddr,
}

impl ClusterDns {
    pub const ENV: &'static str = "KRILL_DNS_SERVER";

    pub fn from_env() -> Result<Self, ClusterError> {
        let value = std::env::var(Self::ENV).map_err(|_| ClusterError::MissingEnv {
            var: Self::ENV,
            hint: "set it to ip:port of a DNS server serving the cluster's cluster.local zone \
                   (`scripts/cluster/<provider>.sh env` prints it for the local and kind clusters)",
        })?;
        Self::parse(&value)
    }

    pub fn parse(value: &str) -> Result<Self, ClusterError> {
        let server = value
            .trim()
            .parse::<SocketAddr>()
            .map_err(|e| ClusterError::InvalidEnv {
                var: Self::ENV,
                value: value.to_owned(),
                reason: format!("expected ip:port ({e})"),
            })?;
        Ok(Self { server })
    }

    pub fn server(&self) -> SocketAddr {
        self.server
    }

    // A fresh resolver per query: records change while a test waits for them, and a cached
    // NXDOMAIN would hide the change.
    fn resolver(&self) -> Result<TokioResolver, ClusterError> {
        let mut udp = ConnectionConfig::udp();
        udp.port = self.server.port();
        let mut tcp = ConnectionConfig::tcp();
        tcp.port = self.server.port();
        let config = ResolverConfig::from_name_servers(vec![NameServerConfig::new(
            self.server.ip(),
            true,
            vec![udp, tcp],
        )]);
        let mut builder = Resolver::builder_with_config(config, TokioRuntimeProvider::default());
        let options = builder.options_mut();
        options.ndots = 0;
        options.attempts = 1;
        options.timeout = Duration::from_secs(2);
        options.ip_strategy = LookupIpStrategy::Ipv4Only;
        options.use_hosts_file = ResolveHosts::Never;
        builder.build().map_err(|e| ClusterError::Dns {
            name: String::new(),
            server: self.server.to_string(),
            reason: format!("cannot build resolver: {e}"),
        })
    }

    /// The A records of `name` (fully qualified); empty when the name does not exist.
    pub async fn lookup(&self, name: &str) -> Result<BTreeSet<IpAddr>, ClusterError> {
        let fqdn = if name.ends_with('.') {
            name.to_owned()
        } else {
            format!("{name}.")
        };
        match self.resolver()?.lookup_ip(fqdn.as_str()).await {
            Ok(answer) => Ok(answer.iter().collect()),
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => Ok(BTreeSet::new()),
            Err(e) => Err(ClusterError::Dns {
                name: name.to_owned(),
                server: self.server.to_string(),
                reason: e.to_string(),
            }),
        }
    }

    /// Waits until `name` resolves to exactly `expected`.
    pub async fn wait_for(
        &self,
        name: &str,
        expected: &BTreeSet<IpAddr>,
        timeout: Duration,
    ) -> Result<(), ClusterError> {
        let what = format!("{name} to resolve to {expected:?} via {}", self.server);
        poll(&what, timeout, || async {
            let got = self.lookup(name).await?;
            Ok(if &got == expected {
                Probe::Ready(())
            } else {
                Probe::Pending(format!("{got:?}"))
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_a_server_without_port_naming_the_variable() {
        let err = ClusterDns::parse("127.0.0.1")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("KRILL_DNS_SERVER") && err.contains("ip:port"),
            "{err}"
        );
    }

    #[test]
    fn accepts_ip_and_port() -> Result<(), ClusterError> {
        assert_eq!(ClusterDns::parse("127.0.0.1:15353")?.server().port(), 15353);
        Ok(())
    }
}
