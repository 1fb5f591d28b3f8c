//! Which address a request comes from. The edge (nginx) sets `X-Real-IP` to
//! the address it was connected from, but any client can send that header
//! too: it is believed only when the TCP peer is a configured proxy
//! (`trust.proxies`, CIDRs). Otherwise the peer itself is the client, so a
//! client cannot pick its own rate-limit budget by naming another address.

use actix_web::HttpRequest;
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// The header the edge sets to the client's address (it overwrites whatever
/// the client sent, unlike X-Forwarded-For).
pub const CLIENT_IP_HEADER: &str = "x-real-ip";

/// One network: an address and how many leading bits of it count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, address.to_canonical()) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                mask_v4(u32::from(address), self.prefix) == u32::from(network)
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                mask_v6(u128::from(address), self.prefix) == u128::from(network)
            }
            _ => false,
        }
    }
}

/// The first `prefix` bits of `bits`, the rest zero.
fn mask_v4(bits: u32, prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        _ => bits & (u32::MAX << (32 - u32::from(prefix))),
    }
}

fn mask_v6(bits: u128, prefix: u8) -> u128 {
    match prefix {
        0 => 0,
        _ => bits & (u128::MAX << (128 - u32::from(prefix))),
    }
}

impl FromStr for Cidr {
    type Err = String;

    /// `10.0.0.0/8`, `fd00::/8`, or a single address (`127.0.0.1` = `/32`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let invalid = || format!("{text:?} is not a CIDR like 10.0.0.0/8 or 127.0.0.1/32");
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network = IpAddr::from_str(address)
            .map_err(|_| invalid())?
            .to_canonical();
        let width = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|prefix| *prefix <= width)
                .ok_or_else(invalid)?,
            None => width,
        };
        let cidr = Self { network, prefix };
        let masked = match network {
            IpAddr::V4(bits) => IpAddr::from(mask_v4(u32::from(bits), prefix).to_be_bytes()),
            IpAddr::V6(bits) => IpAddr::from(mask_v6(u128::from(bits), prefix).to_be_bytes()),
        };
        if masked != network {
            return Err(format!(
                "{text:?} has bits set past its prefix; did you mean {masked}/{prefix}?"
            ));
        }
        Ok(cidr)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}/{}", self.network, self.prefix)
    }
}

/// The peers whose `X-Real-IP` is believed. In a settings file a list of
/// CIDRs; in the environment one string, comma- or space-separated
/// (`VIBES_TRUST__PROXIES="10.0.0.0/8, 172.16.0.0/12"`); empty: none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    pub fn parse<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        items
            .into_iter()
            .flat_map(|item| item.split([',', ' ']))
            .filter(|item| !item.trim().is_empty())
            .map(Cidr::from_str)
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
            .map_err(|error| format!("trust.proxies: {error}"))
    }

    pub fn networks(&self) -> &[Cidr] {
        &self.0
    }

    pub fn trusts(&self, peer: IpAddr) -> bool {
        self.0.iter().any(|network| network.contains(peer))
    }

    /// The client's address: the one in `X-Real-IP` when the peer is a
    /// trusted proxy that sent a valid one, else the peer's.
    pub fn client_address(&self, request: &HttpRequest) -> Option<IpAddr> {
        let peer = request.peer_addr()?.ip().to_canonical();
        if !self.trusts(peer) {
            return Some(peer);
        }
        let forwarded = request
            .headers()
            .get(CLIENT_IP_HEADER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| IpAddr::from_str(value.trim()).ok());
        Some(forwarded.map_or(peer, |address| address.to_canonical()))
    }
}

impl<'de> Deserialize<'de> for TrustedProxies {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            List(Vec<String>),
            Text(String),
        }
        let written = Written::deserialize(deserializer).map_err(|_| {
            serde::de::Error::custom(
                "trust.proxies must be a list of CIDRs or one comma-separated string of them",
            )
        })?;
        let parsed = match &written {
            Written::List(items) => Self::parse(items.iter().map(String::as_str)),
            Written::Text(text) => Self::parse([text.as_str()]),
        };
        parsed.map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn networks_contain_their_addresses_only() {
        let proxies = TrustedProxies::parse(["10.0.0.0/8, 127.0.0.1", "fd00::/8"]).unwrap();
        for inside in [
            "10.1.2.3",
            "10.255.255.255",
            "127.0.0.1",
            "fd12::1",
            "::ffff:10.9.9.9",
        ] {
            assert!(proxies.trusts(ip(inside)), "{inside}");
        }
        for outside in ["11.0.0.1", "127.0.0.2", "fe80::1", "::1", "192.168.1.1"] {
            assert!(!proxies.trusts(ip(outside)), "{outside}");
        }
        let everyone = TrustedProxies::parse(["0.0.0.0/0"]).unwrap();
        assert!(everyone.trusts(ip("203.0.113.9")));
        assert!(!TrustedProxies::parse([""]).unwrap().trusts(ip("127.0.0.1")));
    }

    #[test]
    fn bad_networks_are_refused_with_the_setting_name() {
        for bad in [
            "10.0.0.0/33",
            "10.0.0/8",
            "localhost",
            "10.0.0.1/8",
            "::1/129",
        ] {
            let error = TrustedProxies::parse([bad]).unwrap_err();
            assert!(error.starts_with("trust.proxies: "), "{error}");
        }
        assert!(TrustedProxies::parse(["10.0.0.1/8"])
            .unwrap_err()
            .contains("did you mean 10.0.0.0/8"));
    }
}
