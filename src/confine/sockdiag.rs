//! The host's TCP and UDP sockets, as the kernel's socket diagnostics tell them
//! (`NETLINK_SOCK_DIAG`, what `ss` reads): for [`super::hostnet`], which tells a session's
//! sockets from the host's by inode.
//!
//! Invariants:
//! - Only what is asked is walked: the listening TCP sockets ([`serving`], the kernel's small
//!   listening table), the UDP sockets, or one TCP connection by its addresses
//!   ([`connection`], a hash lookup). Never the whole table of connections, whose size is the
//!   host's (`/proc/net/tcp` walks every bucket of it: milliseconds per read).
//! - Addresses come back as the kernel holds them, v4-mapped ones as v4.
//! - An answer that cannot be had is an error, never an empty list: the caller fails closed.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// `SOCK_DIAG_BY_FAMILY`.
const BY_FAMILY: u16 = 20;

/// `TCP_LISTEN`, the state of a listening socket.
pub(crate) const LISTEN: u8 = 10;

/// `INET_DIAG_NOCOOKIE`: look a socket up by its addresses alone.
const NO_COOKIE: u32 = !0;

/// `struct inet_diag_sockid`: ports and addresses in network order.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct SockId {
    sport: [u8; 2],
    dport: [u8; 2],
    src: [u8; 16],
    dst: [u8; 16],
    interface: u32,
    cookie: [u32; 2],
}

/// `struct nlmsghdr` followed by `struct inet_diag_req_v2`.
#[repr(C)]
struct Request {
    header: libc::nlmsghdr,
    family: u8,
    protocol: u8,
    ext: u8,
    pad: u8,
    states: u32,
    id: SockId,
}

/// `struct inet_diag_msg`.
#[repr(C)]
#[derive(Clone, Copy)]
struct Message {
    family: u8,
    state: u8,
    _timer: u8,
    _retrans: u8,
    id: SockId,
    _expires: u32,
    _rqueue: u32,
    _wqueue: u32,
    _uid: u32,
    inode: u32,
}

/// One socket of the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Its address and its peer's (unspecified while it has none).
    pub(crate) local: SocketAddr,
    pub(crate) remote: SocketAddr,
    /// Its TCP state (UDP: 7, or 1 once connected).
    pub(crate) state: u8,
    /// 0 for a socket no process holds (a connection waiting to be accepted, or closed).
    pub(crate) inode: u64,
}

/// The sockets that may serve a destination: every listening TCP socket (`udp` false) or
/// every UDP socket, v4 and v6.
pub(crate) fn serving(udp: bool) -> io::Result<Vec<Entry>> {
    let (protocol, states) = if udp {
        (libc::IPPROTO_UDP, !0)
    } else {
        (libc::IPPROTO_TCP, 1 << LISTEN)
    };
    let mut out = Vec::new();
    for family in [libc::AF_INET, libc::AF_INET6] {
        out.extend(ask(family, protocol, states, SockId::default(), true)?);
    }
    Ok(out)
}

/// The TCP socket whose address is `local` and whose peer is `remote`, if there is one.
pub(crate) fn connection(local: SocketAddr, remote: SocketAddr) -> io::Result<Option<Entry>> {
    let family = match (local, remote) {
        (SocketAddr::V4(_), SocketAddr::V4(_)) => libc::AF_INET,
        _ => libc::AF_INET6,
    };
    let mut id = SockId {
        sport: local.port().to_be_bytes(),
        dport: remote.port().to_be_bytes(),
        cookie: [NO_COOKIE; 2],
        ..SockId::default()
    };
    id.src = raw_address(local.ip());
    id.dst = raw_address(remote.ip());
    match ask(family, libc::IPPROTO_TCP, !0, id, false) {
        // Without an established socket the kernel answers with the listener of the port:
        // only an exact match is the connection.
        Ok(found) => Ok(found
            .into_iter()
            .find(|e| e.local == local && e.remote == remote)),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// An address as `inet_diag_sockid` holds it: 4 bytes for v4, else 16.
fn raw_address(ip: IpAddr) -> [u8; 16] {
    let mut raw = [0u8; 16];
    match ip {
        IpAddr::V4(v4) => raw[..4].copy_from_slice(&v4.octets()),
        IpAddr::V6(v6) => raw = v6.octets(),
    }
    raw
}

/// Sends one request and collects the sockets of the answer.
fn ask(family: i32, protocol: i32, states: u32, id: SockId, dump: bool) -> io::Result<Vec<Entry>> {
    // SAFETY: socket takes integers and returns a new fd or -1.
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            libc::NETLINK_SOCK_DIAG,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new fd that nothing else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(raw) };
    let flags = libc::NLM_F_REQUEST | if dump { libc::NLM_F_DUMP } else { 0 };
    let request = Request {
        header: libc::nlmsghdr {
            nlmsg_len: size_of::<Request>() as u32,
            nlmsg_type: BY_FAMILY,
            nlmsg_flags: flags as u16,
            nlmsg_seq: 1,
            nlmsg_pid: 0,
        },
        family: family as u8,
        protocol: protocol as u8,
        ext: 0,
        pad: 0,
        states,
        id,
    };
    // SAFETY: sends the bytes of `request`, which lives across the call (to the kernel: the
    // netlink socket's default destination).
    let sent = unsafe {
        libc::send(
            sock.as_raw_fd(),
            (&raw const request).cast(),
            size_of::<Request>(),
            0,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut out = Vec::new();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        // SAFETY: receives at most `buf.len()` bytes into `buf`.
        let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(io::Error::last_os_error());
        }
        if parse(&buf[..n as usize], &mut out)? || !dump {
            return Ok(out);
        }
    }
}

/// Adds the sockets of the netlink messages in `data` to `out`; whether the answer is complete
/// (`NLMSG_DONE`), or the error it ends with.
fn parse(data: &[u8], out: &mut Vec<Entry>) -> io::Result<bool> {
    let header = size_of::<libc::nlmsghdr>();
    let mut at = 0;
    while at + header <= data.len() {
        // SAFETY: `data[at..]` holds a nlmsghdr, read unaligned.
        let h: libc::nlmsghdr = unsafe {
            data.as_ptr()
                .add(at)
                .cast::<libc::nlmsghdr>()
                .read_unaligned()
        };
        let len = h.nlmsg_len as usize;
        if len < header || at + len > data.len() {
            return Err(io::Error::from_raw_os_error(libc::EBADMSG));
        }
        let body = &data[at + header..at + len];
        match i32::from(h.nlmsg_type) {
            libc::NLMSG_DONE => return Ok(true),
            libc::NLMSG_ERROR => {
                let errno = body.get(..4).map_or(libc::EBADMSG, |b| {
                    -i32::from_ne_bytes([b[0], b[1], b[2], b[3]])
                });
                if errno != 0 {
                    return Err(io::Error::from_raw_os_error(errno));
                }
            }
            _ if body.len() >= size_of::<Message>() => {
                // SAFETY: `body` holds an inet_diag_msg, read unaligned.
                let m: Message = unsafe { body.as_ptr().cast::<Message>().read_unaligned() };
                out.push(entry(&m));
            }
            _ => {}
        }
        at += len.div_ceil(4) * 4;
    }
    Ok(false)
}

/// The socket `m` describes.
fn entry(m: &Message) -> Entry {
    let ip = |raw: &[u8; 16]| -> IpAddr {
        if i32::from(m.family) == libc::AF_INET {
            IpAddr::V4(Ipv4Addr::new(raw[0], raw[1], raw[2], raw[3]))
        } else {
            let v6 = Ipv6Addr::from(*raw);
            v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
        }
    };
    Entry {
        local: SocketAddr::new(ip(&m.id.src), u16::from_be_bytes(m.id.sport)),
        remote: SocketAddr::new(ip(&m.id.dst), u16::from_be_bytes(m.id.dport)),
        state: m.state,
        inode: u64::from(m.inode),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    /// The inode of a socket, as a process's fd table names it.
    fn inode(fd: &impl AsRawFd) -> u64 {
        std::fs::metadata(format!("/proc/self/fd/{}", fd.as_raw_fd()))
            .expect("stat")
            .ino()
    }

    #[test]
    fn listeners_and_connections_are_found_with_their_inodes() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let at = listener.local_addr().expect("address");
        let found = serving(false).expect("listeners");
        assert!(
            found
                .iter()
                .any(|e| e.local == at && e.state == LISTEN && e.inode == inode(&listener)),
            "{at} not among {found:?}"
        );
        let client = std::net::TcpStream::connect(at).expect("connect");
        let ours = client.local_addr().expect("address");
        // Not accepted yet: no process holds the other end.
        let waiting = connection(at, ours).expect("lookup").expect("found");
        assert_eq!(waiting.inode, 0);
        let (server, _) = listener.accept().expect("accept");
        let accepted = connection(at, ours).expect("lookup").expect("found");
        assert_eq!(accepted.inode, inode(&server));
        assert_eq!(
            connection(ours, at).expect("lookup").map(|e| e.inode),
            Some(inode(&client))
        );
        let other: SocketAddr = "127.0.0.1:9".parse().expect("address");
        assert_eq!(connection(at, other).expect("lookup"), None);
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let at = udp.local_addr().expect("address");
        assert!(
            serving(true)
                .expect("udp")
                .iter()
                .any(|e| e.local == at && e.inode == inode(&udp))
        );
    }
}
