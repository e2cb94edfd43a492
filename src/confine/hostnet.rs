//! Host services: which inet destinations on this host a `run` session may reach.
//!
//! With the network allowed, a confined agent could still talk to services of the host that
//! listen on a local address (`127.0.0.1`, `::1`, or an address of one of the host's
//! interfaces): a database, a Docker API on TCP, another user's dev server. The connect broker
//! asks [`reachable`] before it connects or sends to such a destination.
//!
//! Invariants:
//! - A local destination is reachable when every socket of the same protocol bound to its port
//!   (TCP: listening; UDP: any) in the caller's network namespace is held open by a process
//!   below the broker's process (the session's tree), or when none is bound (then nothing
//!   answers); a nameserver of `/etc/resolv.conf` on port 53 always is (DNS keeps working).
//! - Non-local destinations are not this module's business: `--net` decides them.
//!
//! Deliberately loose: the check and the connection are two steps, so a host service that
//! binds the port in between is reached; and any other listener on the same port, whatever its
//! address, makes the destination unreachable.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::tree::pids_below;

/// Whether `ip` reaches this host: loopback, unspecified (which connects to loopback), or an
/// address of one of its interfaces.
pub(crate) fn is_local(ip: IpAddr) -> bool {
    let ip = canonical(ip);
    ip.is_loopback() || ip.is_unspecified() || interface_addresses().contains(&ip)
}

/// A v4-mapped v6 address as the v4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The addresses of this host's interfaces (`getifaddrs`).
fn interface_addresses() -> BTreeSet<IpAddr> {
    let mut out = BTreeSet::new();
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list` with a list we free below.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return out;
    }
    let mut at = list;
    while !at.is_null() {
        // SAFETY: `at` is a node of the list getifaddrs returned, not yet freed.
        let entry = unsafe { &*at };
        if !entry.ifa_addr.is_null() {
            // SAFETY: ifa_addr points at a sockaddr whose family says its real type.
            unsafe {
                match i32::from((*entry.ifa_addr).sa_family) {
                    libc::AF_INET => {
                        let sin = &*entry.ifa_addr.cast::<libc::sockaddr_in>();
                        out.insert(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                            sin.sin_addr.s_addr,
                        ))));
                    }
                    libc::AF_INET6 => {
                        let sin6 = &*entry.ifa_addr.cast::<libc::sockaddr_in6>();
                        out.insert(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)));
                    }
                    _ => {}
                }
            }
        }
        at = entry.ifa_next;
    }
    // SAFETY: frees the list getifaddrs allocated, once.
    unsafe { libc::freeifaddrs(list) };
    out
}

/// The nameservers of `/etc/resolv.conf`.
fn nameservers() -> Vec<IpAddr> {
    std::fs::read_to_string("/etc/resolv.conf")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|rest| {
            // A scope suffix (`fe80::1%eth0`) does not change which address it is.
            let addr = rest.trim().split('%').next()?;
            addr.parse().ok()
        })
        .map(canonical)
        .collect()
}

/// Whether the session may reach the local destination `ip:port` with TCP (`udp` false) or
/// UDP, for the caller `tid`.
pub(crate) fn reachable(tid: libc::pid_t, ip: IpAddr, port: u16, udp: bool) -> bool {
    if port == 53 && nameservers().contains(&canonical(ip)) {
        return true;
    }
    let mut bound = BTreeSet::new();
    let tables: [&str; 2] = if udp {
        ["udp", "udp6"]
    } else {
        ["tcp", "tcp6"]
    };
    for table in tables {
        let text = std::fs::read_to_string(format!("/proc/{tid}/net/{table}")).unwrap_or_default();
        bound.extend(sockets_on(&text, port, !udp));
    }
    if bound.is_empty() {
        return true;
    }
    // SAFETY: getpid has no preconditions.
    for pid in pids_below(unsafe { libc::getpid() }) {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Some(inode) = std::fs::read_link(fd.path())
                .ok()
                .and_then(|l| socket_inode(&l.to_string_lossy()))
            {
                bound.remove(&inode);
            }
        }
        if bound.is_empty() {
            return true;
        }
    }
    false
}

/// The inode of a `socket:[N]` link target.
fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The inodes of the sockets of a `/proc/net/{tcp,udp}[6]` table bound to local `port`;
/// with `listening`, only those in state `LISTEN`.
fn sockets_on(table: &str, port: u16, listening: bool) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let local_port = f.get(1)?.rsplit(':').next()?;
            let state = f.get(3)?;
            let inode = f.get(9)?.parse().ok()?;
            (u16::from_str_radix(local_port, 16).ok()? == port && (!listening || *state == "0A"))
                .then_some(inode)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_give_the_sockets_on_a_port() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0 100 0 0 10 0\n\
   1: 0100007F:1538 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 4243 1 0 100 0 0 10 0\n\
   2: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 17 1 0 100 0 0 10 0\n";
        assert_eq!(sockets_on(table, 0x1538, true), vec![4242]);
        assert_eq!(sockets_on(table, 0x1538, false), vec![4242, 4243]);
        assert_eq!(sockets_on(table, 80, true), Vec::<u64>::new());
        assert_eq!(socket_inode("socket:[4242]"), Some(4242));
        assert_eq!(socket_inode("pipe:[4242]"), None);
    }

    #[test]
    fn loopback_and_unspecified_are_local() {
        for ip in [
            "127.0.0.1",
            "127.1.2.3",
            "0.0.0.0",
            "::1",
            "::",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_local(ip.parse().expect("address")), "{ip}");
        }
        assert!(!is_local("192.0.2.200".parse().expect("address")));
    }
}
