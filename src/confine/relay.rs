//! The send calls the connect broker makes for a confined command: `sendto` with an address,
//! `sendmsg` and `sendmmsg`.
//!
//! A datagram sent with a destination address needs no `connect`, so the broker must see these
//! too: a pathname datagram socket outside the view (the journal, syslog, the notify socket of
//! a service), a UDP service of the host, or a TCP Fast Open `sendto`, which connects. The
//! filter cannot read `sendmsg`'s address (it is inside `msghdr`), so every `sendmsg` and
//! `sendmmsg` comes here, with an address or not.
//!
//! Invariants:
//! - The broker reads each argument of the caller once (the `msghdr`, the address, the data,
//!   the ancillary data) and sends its own copy on its copy of the caller's socket, so no other
//!   thread of the command can change the address after the check.
//! - The address, when there is one, goes through the broker's decision ([`super::broker`]):
//!   what `connect` may not reach, a send may not either. A TCP Fast Open send to a local
//!   destination connects first, as `connect` would, so no data leaves before the connection
//!   is checked.
//! - Fds passed with `SCM_RIGHTS` are the caller's own (taken with `pidfd_getfd`);
//!   `SCM_CREDENTIALS` is refused (`EPERM`): the broker cannot vouch for the caller.
//! - At most [`DATA_MAX`] bytes are sent per message: a stream socket sends a prefix (a short
//!   write), a larger datagram fails with `EMSGSIZE`.

use std::os::fd::{AsRawFd, OwnedFd};

use super::broker::{Answer, Caller, last_errno};
use super::destination::{Target, connect_to, socket_option};

/// The most bytes sent for one message.
pub(crate) const DATA_MAX: usize = 1 << 20;

/// The most ancillary data of one message.
const CONTROL_MAX: usize = 4096;

/// The most iovecs of one message, and messages of one `sendmmsg` (the kernel's `UIO_MAXIOV`).
const VEC_MAX: usize = 1024;

/// `sizeof(struct sockaddr_storage)`.
const ADDR_MAX: usize = 128;

/// Makes the notified send call `nr` with `args` on `sock`, the caller's socket; `target`
/// decides each destination address.
pub(crate) fn send(
    nr: i64,
    caller: &Caller,
    sock: &OwnedFd,
    args: &[u64; 6],
    target: &dyn Fn(&[u8]) -> Result<Target, i32>,
) -> Answer {
    match nr {
        libc::SYS_sendto => {
            let len = args[5] as usize;
            if len > ADDR_MAX {
                return Err(libc::EINVAL);
            }
            let (to, flags) = connect_first(sock, target(&caller.read(args[4], len)?)?, args[3])?;
            let data = caller.read(args[1], capped(sock, args[2] as usize)?)?;
            let (addr, addr_len) = to.as_ref().map_or((std::ptr::null(), 0), |to| {
                (to.addr.as_ptr(), to.addr.len() as libc::socklen_t)
            });
            retry(|| {
                // SAFETY: `data` and the address are valid for their lengths during the call.
                unsafe {
                    libc::sendto(
                        sock.as_raw_fd(),
                        data.as_ptr().cast(),
                        data.len(),
                        flags,
                        addr.cast(),
                        addr_len,
                    )
                }
            })
        }
        libc::SYS_sendmsg => send_msg(caller, sock, args[1], args[2], target),
        libc::SYS_sendmmsg => {
            let count = (args[2] as usize).min(VEC_MAX);
            let size = size_of::<libc::mmsghdr>();
            let mut sent = 0;
            for i in 0..count {
                let at = args[1] + (i * size) as u64;
                match send_msg(caller, sock, at, args[3], target) {
                    Ok(n) => {
                        let len_at = at + std::mem::offset_of!(libc::mmsghdr, msg_len) as u64;
                        caller.write(len_at, &(n as libc::c_uint).to_ne_bytes())?;
                        sent += 1;
                    }
                    Err(errno) if i == 0 => return Err(errno),
                    Err(_) => break,
                }
            }
            Ok(sent)
        }
        _ => Err(libc::ENOSYS),
    }
}

/// One `sendmsg(sock, msg, flags)` where `msg` is the caller's `msghdr` at `at`.
fn send_msg(
    caller: &Caller,
    sock: &OwnedFd,
    at: u64,
    flags: u64,
    target: &dyn Fn(&[u8]) -> Result<Target, i32>,
) -> Answer {
    let raw = caller.read(at, size_of::<libc::msghdr>())?;
    // SAFETY: `raw` holds size_of::<msghdr>() bytes; msghdr is plain data, read unaligned.
    let msg: libc::msghdr = unsafe { raw.as_ptr().cast::<libc::msghdr>().read_unaligned() };
    let (to, flags) = if msg.msg_name.is_null() || msg.msg_namelen == 0 {
        (None, flags as libc::c_int)
    } else {
        let len = msg.msg_namelen as usize;
        if len > ADDR_MAX {
            return Err(libc::EINVAL);
        }
        connect_first(
            sock,
            target(&caller.read(msg.msg_name as u64, len)?)?,
            flags,
        )?
    };
    let iovlen = msg.msg_iovlen as usize;
    if iovlen > VEC_MAX {
        return Err(libc::EMSGSIZE);
    }
    let iovs = caller.read(msg.msg_iov as u64, iovlen * size_of::<libc::iovec>())?;
    let mut data = Vec::new();
    let mut total = 0usize;
    for i in 0..iovlen {
        // SAFETY: `iovs` holds `iovlen` iovecs, read unaligned.
        let iov: libc::iovec =
            unsafe { iovs.as_ptr().cast::<libc::iovec>().add(i).read_unaligned() };
        total = total.saturating_add(iov.iov_len);
        data.push((iov.iov_base as u64, iov.iov_len));
    }
    let mut left = capped(sock, total)?;
    let mut bytes = Vec::with_capacity(left);
    for (base, len) in data {
        let take = len.min(left);
        bytes.extend(caller.read(base, take)?);
        left -= take;
    }
    let controllen = msg.msg_controllen as usize;
    if controllen > CONTROL_MAX {
        return Err(libc::ENOBUFS);
    }
    let mut control = caller.read(msg.msg_control as u64, controllen)?;
    let _fds = own_fds(caller, &mut control)?;
    let mut iov = libc::iovec {
        iov_base: bytes.as_mut_ptr().cast(),
        iov_len: bytes.len(),
    };
    // SAFETY: a zeroed msghdr is valid; the pointers set below outlive the call.
    let mut out: libc::msghdr = unsafe { std::mem::zeroed() };
    if let Some(to) = &to {
        out.msg_name = to.addr.as_ptr().cast_mut().cast();
        out.msg_namelen = to.addr.len() as libc::socklen_t;
    }
    out.msg_iov = &mut iov;
    out.msg_iovlen = 1;
    if !control.is_empty() {
        out.msg_control = control.as_mut_ptr().cast();
        out.msg_controllen = control.len() as _;
    }
    // SAFETY: `out` and what it points to are valid for the call.
    retry(|| unsafe { libc::sendmsg(sock.as_raw_fd(), &out, flags) })
}

/// The address a send goes to and its flags: for a TCP Fast Open send to a local destination
/// (one whose connection must end at the session's), none, once `sock` is connected and the
/// connection checked, and without `MSG_FASTOPEN`.
fn connect_first(sock: &OwnedFd, to: Target, flags: u64) -> Result<(Option<Target>, i32), i32> {
    let flags = flags as libc::c_int;
    // Without MSG_FASTOPEN, TCP ignores the address: nothing connects.
    if to.session_peer.is_none() || flags & libc::MSG_FASTOPEN == 0 {
        return Ok((Some(to), flags));
    }
    connect_to(sock, &to)?;
    Ok((None, flags & !libc::MSG_FASTOPEN))
}

/// How many of `len` bytes one message sends: all, at most [`DATA_MAX`] on a stream socket,
/// `EMSGSIZE` for a larger datagram.
fn capped(sock: &OwnedFd, len: usize) -> Result<usize, i32> {
    if len <= DATA_MAX {
        return Ok(len);
    }
    if socket_option(sock, libc::SO_TYPE) == Some(libc::SOCK_STREAM) {
        Ok(DATA_MAX)
    } else {
        Err(libc::EMSGSIZE)
    }
}

/// Replaces the caller's fd numbers in the `SCM_RIGHTS` messages of `control` (a copy of its
/// ancillary data) with copies the broker owns, returned to be kept open until sent; refuses
/// `SCM_CREDENTIALS`.
fn own_fds(caller: &Caller, control: &mut [u8]) -> Result<Vec<OwnedFd>, i32> {
    let mut fds = Vec::new();
    let header = size_of::<libc::cmsghdr>();
    let mut at = 0;
    while at + header <= control.len() {
        // SAFETY: `control[at..]` holds a cmsghdr, read unaligned.
        let cmsg: libc::cmsghdr = unsafe {
            control
                .as_ptr()
                .add(at)
                .cast::<libc::cmsghdr>()
                .read_unaligned()
        };
        let len: usize = cmsg.cmsg_len as _;
        if len < header || at + len > control.len() {
            return Err(libc::EINVAL);
        }
        if cmsg.cmsg_level == libc::SOL_SOCKET {
            if cmsg.cmsg_type == libc::SCM_CREDENTIALS {
                return Err(libc::EPERM);
            }
            if cmsg.cmsg_type == libc::SCM_RIGHTS {
                for slot in control[at + header..at + len].chunks_exact_mut(4) {
                    let theirs = i32::from_ne_bytes([slot[0], slot[1], slot[2], slot[3]]);
                    let ours = caller.fd(theirs as u64)?;
                    slot.copy_from_slice(&ours.as_raw_fd().to_ne_bytes());
                    fds.push(ours);
                }
            }
        }
        // Each message starts aligned to the size of a long.
        let align = size_of::<libc::c_long>();
        at += len.div_ceil(align) * align;
    }
    Ok(fds)
}

/// Runs `call` until it is not interrupted: its result, or the errno.
fn retry(mut call: impl FnMut() -> isize) -> Answer {
    loop {
        let n = call();
        if n >= 0 {
            return Ok(n as i64);
        }
        match last_errno() {
            libc::EINTR => continue,
            errno => return Err(errno),
        }
    }
}
