//! Host services: which inet destinations on this host a `run` session may reach.
//!
//! With the network allowed, a confined agent could still talk to services of the host that
//! listen on a local address (`127.0.0.1`, `::1`, or an address of one of the host's
//! interfaces): a database, a Docker API on TCP, another user's dev server. The connect broker
//! asks [`reachable`] before it connects or sends to such a destination.
//!
//! Invariants:
//! - A local destination is reachable when a process below the broker's process (the
//!   session's tree) holds a socket of the same protocol bound to its port, on its address or
//!   on the unspecified one (TCP: listening; UDP: any): then the kernel delivers there, since
//!   no other socket can bind that port and address beside it (unless both set
//!   `SO_REUSEPORT` as the same user). A nameserver of `/etc/resolv.conf` on port 53 always is
//!   reachable (DNS keeps working).
//! - Only the session's own processes are looked at (their `children` files, their fds and,
//!   for sockets, `getsockname` on a copy taken with `pidfd_getfd`), never the whole process
//!   or socket table, so the cost grows with the session, not with the host.
//! - Non-local destinations are not this module's business: `--net` decides them.
//!
//! Deliberately loose: the check and the connection are two steps, so a session that closes
//! its listener and a host service that binds the port in between meet.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::broker::socket_option;

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
/// UDP: the configured resolver, or a socket of the session's tree bound there.
pub(crate) fn reachable(ip: IpAddr, port: u16, udp: bool) -> bool {
    (port == 53 && nameservers().contains(&canonical(ip))) || session_serves(ip, port, udp)
}

/// Whether a process below this one (the session's tree) holds a socket that serves
/// `ip:port`: TCP listening (`udp` false) or UDP, bound to that port on `ip` or on the
/// unspecified address.
fn session_serves(ip: IpAddr, port: u16, udp: bool) -> bool {
    let ip = canonical(ip);
    // SAFETY: getpid has no preconditions.
    for pid in session_pids(unsafe { libc::getpid() }) {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        let sockets: Vec<u64> = fds
            .flatten()
            .filter(|fd| {
                std::fs::read_link(fd.path())
                    .is_ok_and(|l| l.as_os_str().as_encoded_bytes().starts_with(b"socket:"))
            })
            .filter_map(|fd| fd.file_name().to_str()?.parse().ok())
            .collect();
        if sockets.is_empty() {
            continue;
        }
        // SAFETY: pidfd_open takes integers and returns a new fd or -1.
        let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0 as libc::c_uint) };
        if raw < 0 {
            continue;
        }
        // SAFETY: a new fd that nothing else owns.
        let pidfd = unsafe { OwnedFd::from_raw_fd(raw as RawFd) };
        for fd in sockets {
            // SAFETY: pidfd_getfd takes a pidfd we own, an fd number and flags 0.
            let raw = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) };
            if raw < 0 {
                continue;
            }
            // SAFETY: a new fd that nothing else owns.
            let sock = unsafe { OwnedFd::from_raw_fd(raw as RawFd) };
            if serves(&sock, ip, port, udp) {
                return true;
            }
        }
    }
    false
}

/// Whether `sock` is a socket that serves `ip:port` (see [`session_serves`]).
fn serves(sock: &OwnedFd, ip: IpAddr, port: u16, udp: bool) -> bool {
    let int_opt = |opt| socket_option(sock, opt);
    let kind_ok = if udp {
        int_opt(libc::SO_TYPE) == Some(libc::SOCK_DGRAM)
    } else {
        int_opt(libc::SO_TYPE) == Some(libc::SOCK_STREAM) && int_opt(libc::SO_ACCEPTCONN) == Some(1)
    };
    if !kind_ok {
        return false;
    }
    // SAFETY: a zeroed sockaddr_storage is valid; getsockname fills at most `len` bytes.
    let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: as above.
    if unsafe { libc::getsockname(sock.as_raw_fd(), (&raw mut addr).cast(), &mut len) } != 0 {
        return false;
    }
    // SAFETY: the family says which address type `addr` holds.
    let (bound, bound_port) = unsafe {
        match i32::from(addr.ss_family) {
            libc::AF_INET => {
                let sin = &*(&raw const addr).cast::<libc::sockaddr_in>();
                (
                    IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr))),
                    u16::from_be(sin.sin_port),
                )
            }
            libc::AF_INET6 => {
                let sin6 = &*(&raw const addr).cast::<libc::sockaddr_in6>();
                (
                    IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)),
                    u16::from_be(sin6.sin6_port),
                )
            }
            _ => return false,
        }
    };
    let bound = canonical(bound);
    bound_port == port
        && (bound.is_unspecified() || bound == ip || (ip.is_unspecified() && bound.is_loopback()))
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
}
