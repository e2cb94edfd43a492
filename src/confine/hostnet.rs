//! Host services: which inet destinations on this host a `run` session may reach.
//!
//! With the network allowed, a confined agent could still talk to services of the host that
//! listen on a local address (`127.0.0.1`, `::1`, or an address of one of the host's
//! interfaces): a database, a Docker API on TCP, another user's dev server; or to every one of
//! them at once, through a broadcast or multicast address (mDNS on `224.0.0.251:5353`). The
//! connect broker asks [`reachable`] before it connects or sends to such a destination, and
//! [`peer_is_sessions`] once a TCP connection to it is made.
//!
//! Invariants:
//! - A local unicast destination is reachable when the host's sockets that serve it (TCP:
//!   listening; UDP: bound; to its port, on its address or on the unspecified one) are at
//!   least one and all held by processes below the broker's process (the session's tree): a
//!   host service sharing the port through `SO_REUSEPORT` makes it unreachable. A nameserver of
//!   `/etc/resolv.conf` on port 53 always is reachable (DNS keeps working).
//! - A broadcast or multicast destination never is: the kernel delivers it to every socket of
//!   the host that listens there.
//! - A TCP connection to a session's server is kept only when its other end is a socket of the
//!   session, or no process's (waiting in a backlog, or closed) while no listener but the
//!   session's serves the port; checked after the connect, so a host service that bound the
//!   port after [`reachable`] said yes is not reached.
//! - Sockets are told apart by inode: the host's sockets that serve the port, or the other end
//!   of the connection ([`super::sockdiag`], asked only for a local destination), against the
//!   sockets among the session's processes' fds. When the host's sockets cannot be known,
//!   nothing local is reached.
//! - Non-local destinations are not this module's business: `--net` decides them.
//!
//! Deliberately loose: a datagram is sent once [`reachable`] said yes, so a session that
//! closes its UDP socket and a host service that binds the port in between meet.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use std::os::fd::{AsRawFd, OwnedFd};

use super::sockdiag;

/// Whether `ip` reaches this host: loopback, unspecified (which connects to loopback), an
/// address of one of its interfaces, or a broadcast or multicast address (see [`is_group`]).
pub(crate) fn is_local(ip: IpAddr) -> bool {
    let ip = canonical(ip);
    if ip.is_loopback() || ip.is_unspecified() || ip.is_multicast() {
        return true;
    }
    let (own, broadcast) = interface_addresses();
    own.contains(&ip) || is_broadcast(ip, &broadcast)
}

/// Whether `ip` is delivered to every socket of the host that listens there: multicast
/// (`224.0.0.0/4`, `ff00::/8`), the limited broadcast `255.255.255.255`, or the broadcast
/// address of one of the host's networks.
fn is_group(ip: IpAddr) -> bool {
    let ip = canonical(ip);
    ip.is_multicast()
        || (ip.is_ipv4() && !ip.is_loopback() && is_broadcast(ip, &interface_addresses().1))
}

/// Whether `ip` is the limited broadcast address or one of `networks`' broadcast addresses.
fn is_broadcast(ip: IpAddr, networks: &BTreeSet<Ipv4Addr>) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_broadcast() || networks.contains(&v4),
        IpAddr::V6(_) => false,
    }
}

/// A v4-mapped v6 address as the v4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The addresses of this host's interfaces, and the broadcast addresses of their networks
/// (`getifaddrs`).
fn interface_addresses() -> (BTreeSet<IpAddr>, BTreeSet<Ipv4Addr>) {
    let mut own = BTreeSet::new();
    let mut broadcast = BTreeSet::new();
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list` with a list we free below.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return (own, broadcast);
    }
    let v4 = |addr: *const libc::sockaddr| {
        // SAFETY: an AF_INET sockaddr (checked by the caller) is a sockaddr_in.
        let sin = unsafe { &*addr.cast::<libc::sockaddr_in>() };
        Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr))
    };
    let mut at = list;
    while !at.is_null() {
        // SAFETY: `at` is a node of the list getifaddrs returned, not yet freed.
        let entry = unsafe { &*at };
        if !entry.ifa_addr.is_null() {
            // SAFETY: ifa_addr points at a sockaddr whose family says its real type.
            match i32::from(unsafe { (*entry.ifa_addr).sa_family }) {
                libc::AF_INET => {
                    own.insert(IpAddr::V4(v4(entry.ifa_addr)));
                    // With IFF_BROADCAST, ifa_ifu is the network's broadcast address.
                    if entry.ifa_flags & libc::IFF_BROADCAST as u32 != 0 && !entry.ifa_ifu.is_null()
                    {
                        broadcast.insert(v4(entry.ifa_ifu));
                    }
                }
                libc::AF_INET6 => {
                    // SAFETY: an AF_INET6 sockaddr is a sockaddr_in6.
                    let sin6 = unsafe { &*entry.ifa_addr.cast::<libc::sockaddr_in6>() };
                    own.insert(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)));
                }
                _ => {}
            }
        }
        at = entry.ifa_next;
    }
    // SAFETY: frees the list getifaddrs allocated, once.
    unsafe { libc::freeifaddrs(list) };
    (own, broadcast)
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

/// Whether, and why, the session may reach a local destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// Not at all.
    No,
    /// The configured resolver.
    Resolver,
    /// Sockets of the session serve it; a TCP connection must still end at one of them
    /// ([`peer_is_sessions`]).
    Session,
}

/// Whether the session may reach the local destination `ip:port` with TCP (`udp` false) or
/// UDP: the configured resolver, or a unicast destination only the session's sockets serve.
pub(crate) fn reachable(ip: IpAddr, port: u16, udp: bool) -> Reach {
    if is_group(ip) {
        Reach::No
    } else if port == 53 && nameservers().contains(&canonical(ip)) {
        Reach::Resolver
    } else if served_by(ip, port, udp, &session_sockets()) == Served::Session {
        Reach::Session
    } else {
        Reach::No
    }
}

/// Who holds the sockets that serve a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Served {
    /// No socket serves it.
    Nobody,
    /// Only sockets of the session.
    Session,
    /// At least one socket that is not the session's.
    Host,
}

/// Who holds the sockets that serve `ip:port` (TCP listening, or UDP), `sessions` being the
/// session's socket inodes.
fn served_by(ip: IpAddr, port: u16, udp: bool, sessions: &BTreeSet<u64>) -> Served {
    let Ok(all) = sockdiag::serving(udp) else {
        // Nothing is known: as if a host service were there.
        return Served::Host;
    };
    let serving: Vec<_> = all
        .into_iter()
        .filter(|e| serves(e.local, ip, port))
        .collect();
    if serving.is_empty() {
        Served::Nobody
    } else if serving.iter().all(|e| sessions.contains(&e.inode)) {
        Served::Session
    } else {
        Served::Host
    }
}

/// Whether the connected TCP socket `sock` ends at a socket of the session: the other end of
/// the connection is the session's; or no process holds it, and no listener but the session's
/// serves the port (checked before and after looking at the listeners, so one cannot be
/// accepted by a host service and its listener closed in between unnoticed). No process holds
/// it when it waits, not accepted yet, in a listener's backlog, which closing the listener
/// would have reset, or when whoever accepted it closed it already: no host service is left
/// to talk to then.
pub(crate) fn peer_is_sessions(sock: &OwnedFd) -> bool {
    let (Some(ours), Some(theirs)) = (
        address(sock, libc::getsockname),
        address(sock, libc::getpeername),
    ) else {
        return false;
    };
    let peer = || match sockdiag::connection(theirs, ours) {
        Ok(found) => found.map(|e| e.inode),
        Err(_) => None,
    };
    let sessions = session_sockets();
    match peer() {
        // Not accepted yet (or closed by its owner already): the listeners decide.
        Some(0) => {
            served_by(theirs.ip(), theirs.port(), false, &sessions) != Served::Host
                && peer().is_some_and(|inode| inode == 0 || session_sockets().contains(&inode))
        }
        Some(inode) => sessions.contains(&inode),
        None => false,
    }
}

/// Whether a socket bound to `local` serves the destination `ip:port`: same port, and its
/// address is the destination's or the unspecified one (a v6 one also serves v4, unless it
/// is v6 only, which is not told here).
fn serves(local: SocketAddr, ip: IpAddr, port: u16) -> bool {
    let (bound, ip) = (local.ip(), canonical(ip));
    local.port() == port
        && (bound == ip
            || (ip.is_unspecified() && bound.is_loopback())
            || (bound.is_unspecified() && (bound.is_ipv6() || ip.is_ipv4())))
}

/// The address `get` (`getsockname` or `getpeername`) gives for the inet socket `sock`, with a
/// v4-mapped address as v4.
fn address(
    sock: &OwnedFd,
    get: unsafe extern "C" fn(
        libc::c_int,
        *mut libc::sockaddr,
        *mut libc::socklen_t,
    ) -> libc::c_int,
) -> Option<SocketAddr> {
    // SAFETY: a zeroed sockaddr_storage is valid; `get` fills at most `len` bytes.
    let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: as above.
    if unsafe { get(sock.as_raw_fd(), (&raw mut addr).cast(), &mut len) } != 0 {
        return None;
    }
    // SAFETY: the family says which address type `addr` holds.
    let (ip, port) = unsafe {
        match i32::from(addr.ss_family) {
            libc::AF_INET => {
                let sin = &*(&raw const addr).cast::<libc::sockaddr_in>();
                (
                    IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr))),
                    sin.sin_port,
                )
            }
            libc::AF_INET6 => {
                let sin6 = &*(&raw const addr).cast::<libc::sockaddr_in6>();
                (
                    IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)),
                    sin6.sin6_port,
                )
            }
            _ => return None,
        }
    };
    Some(SocketAddr::new(canonical(ip), u16::from_be(port)))
}

/// The inodes of the sockets the processes below this one (the session's tree) hold.
fn session_sockets() -> BTreeSet<u64> {
    // SAFETY: getpid has no preconditions.
    session_pids(unsafe { libc::getpid() })
        .into_iter()
        .filter_map(|pid| std::fs::read_dir(format!("/proc/{pid}/fd")).ok())
        .flat_map(|fds| fds.flatten())
        .filter_map(|fd| {
            let link = std::fs::read_link(fd.path()).ok()?;
            let link = link.to_str()?;
            link.strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect()
}

/// The pids of the tree below `root` (not `root` itself), through each thread's `children`
/// file; the whole process table is not read.
fn session_pids(root: libc::pid_t) -> Vec<libc::pid_t> {
    let mut out = Vec::new();
    let mut todo = vec![root];
    while let Some(pid) = todo.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
                out.push(child);
                todo.push(child);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn broadcast_and_multicast_are_groups() {
        for ip in [
            "224.0.0.251",
            "239.255.77.77",
            "255.255.255.255",
            "ff02::1",
            "::ffff:224.0.0.1",
        ] {
            let ip = ip.parse().expect("address");
            assert!(is_group(ip) && is_local(ip), "{ip}");
            assert_eq!(reachable(ip, 5353, true), Reach::No, "{ip}");
        }
        assert!(!is_group("127.0.0.1".parse().expect("address")));
    }
}
