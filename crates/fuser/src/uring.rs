//! FUSE over io_uring (Linux 6.14+, `FUSE_OVER_IO_URING`): the kernel hands requests to
//! buffers the daemon registered with it, one queue per possible CPU, and takes the reply
//! from the same buffers with the command that fetches the next request. One system call
//! per request (an `io_uring_enter` that commits and waits) replaces a `read` and a
//! `writev` on /dev/fuse.
//!
//! The protocol (`include/uapi/linux/fuse.h`, `fs/fuse/dev_uring.c`):
//! - After INIT granted `FUSE_OVER_IO_URING`, each entry is registered with an
//!   `IORING_OP_URING_CMD` (a 128-byte SQE) of `FUSE_IO_URING_CMD_REGISTER`: `addr` points at
//!   two iovecs, a 288-byte header buffer and a payload buffer of at least the connection's
//!   largest request (`max(8 KiB, max_write, max_pages * page size)`); the 80-byte command
//!   area holds `fuse_uring_cmd_req { flags, commit_id, qid }`.
//! - The kernel switches from /dev/fuse to the rings once every queue has an entry; until
//!   then (or if registration fails) requests keep coming through /dev/fuse. FORGET,
//!   INTERRUPT and notifications always use /dev/fuse, so its readers keep running.
//! - A request completes the entry's command: the header buffer holds the `fuse_in_header`
//!   (bytes 0..128), the opcode's first argument (128..256) and `fuse_uring_ent_in_out`
//!   (256..288: flags, commit_id, payload_sz); the payload buffer holds the other arguments.
//!   The length of the first argument is `in.len - 40 - payload_sz`.
//! - The reply goes back the same way: `fuse_out_header` at byte 0 of the header buffer, the
//!   reply's arguments in the payload buffer, their length in `payload_sz`, and a
//!   `FUSE_IO_URING_CMD_COMMIT_AND_FETCH` with the request's `commit_id` commits it and
//!   waits for the next request.
//! - At unmount or abort the kernel completes every outstanding command with an error
//!   (`ENOTCONN`), which ends the queue's thread.
//!
//! fuser's parser wants the /dev/fuse layout (header, first argument, the rest, contiguous);
//! each thread copies a request into one buffer of its own in that layout, so the request
//! a filesystem method borrows never shares memory with the reply it writes.

use std::alloc::Layout;
use std::collections::VecDeque;
use std::io;
use std::io::IoSlice;
use std::mem::ManuallyDrop;
use std::mem::size_of;
use std::os::fd::AsFd;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::Condvar;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::thread;
use std::thread::JoinHandle;

use io_uring::IoUring;
use io_uring::cqueue;
use io_uring::opcode;
use io_uring::squeue;
use io_uring::types;
use log::debug;
use log::warn;

use crate::Filesystem;
use crate::ReplyEmpty;
use crate::channel::ChannelSender;
use crate::ll::Operation;
use crate::ll::fuse_abi as abi;
use crate::request::RequestWithSender;
use crate::session::SessionEventLoop;

const CMD_REGISTER: u32 = 1;
const CMD_COMMIT_AND_FETCH: u32 = 2;
/// `struct fuse_uring_req_header`: in/out header, first argument, `fuse_uring_ent_in_out`.
const HEADER_SIZE: usize = 288;
const OP_IN: usize = 128;
const OP_IN_SIZE: usize = 128;
const ENT_IN_OUT: usize = 256;
const ENT_COMMIT_ID: usize = ENT_IN_OUT + 8;
const ENT_PAYLOAD_SZ: usize = ENT_IN_OUT + 16;
const IN_HEADER: usize = size_of::<abi::fuse_in_header>();
const OUT_HEADER: usize = size_of::<abi::fuse_out_header>();

/// Entries per queue thread: one in the daemon's hands, one the kernel can fill meanwhile.
const DEPTH: usize = 2;

/// How the rings are laid out, fixed at INIT.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RingParams {
    /// Bytes of each entry's payload buffer.
    pub(crate) payload_size: usize,
    /// Queues: one per possible CPU (the kernel's `num_possible_cpus()`).
    pub(crate) queues: usize,
    /// Threads per queue, each with its own ring and `DEPTH` entries.
    pub(crate) threads_per_queue: usize,
}

/// The number of possible CPUs, as the kernel counts its queues.
pub(crate) fn possible_cpus() -> io::Result<usize> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/possible")?;
    // "0-3", "0", or "0-3,5-7": the highest index plus one.
    let highest = text
        .trim()
        .split([',', '-'])
        .filter_map(|n| n.parse::<usize>().ok())
        .max()
        .ok_or_else(|| io::Error::other(format!("cannot parse possible CPUs {text:?}")))?;
    Ok(highest + 1)
}

/// Zeroed, page-aligned memory the kernel reads and writes through registered pointers;
/// never moved, so those pointers stay valid for as long as it lives.
#[derive(Debug)]
struct Buf {
    ptr: *mut u8,
    layout: Layout,
}

impl Buf {
    fn new(size: usize) -> io::Result<Buf> {
        let layout = Layout::from_size_align(size.max(8), 4096).map_err(io::Error::other)?;
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        if ptr.is_null() {
            return Err(io::ErrorKind::OutOfMemory.into());
        }
        Ok(Buf { ptr, layout })
    }

    fn len(&self) -> usize {
        self.layout.size()
    }
}

impl Drop for Buf {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.ptr, self.layout) };
    }
}

// SAFETY: a Buf is plain memory; who may touch it when is governed by the entry's state
// (see `Slot`), not by the thread that holds it.
unsafe impl Send for Buf {}
// SAFETY: as above.
unsafe impl Sync for Buf {}

/// One registered entry: its buffers, and the state of the reply being written into them.
#[derive(Debug)]
struct Slot {
    headers: Buf,
    payload: Buf,
    /// Whether the reply to the entry's current request is written.
    done: Mutex<bool>,
    replied: Condvar,
}

impl Slot {
    fn new(payload_size: usize) -> io::Result<Slot> {
        Ok(Slot {
            headers: Buf::new(HEADER_SIZE)?,
            payload: Buf::new(payload_size)?,
            done: Mutex::new(false),
            replied: Condvar::new(),
        })
    }

    fn read_u32(&self, at: usize) -> u32 {
        let mut b = [0u8; 4];
        // SAFETY: `at + 4 <= HEADER_SIZE` for every caller; the kernel does not write the
        // header while the entry is in the daemon's hands (between CQE and commit).
        unsafe { std::ptr::copy_nonoverlapping(self.headers.ptr.add(at), b.as_mut_ptr(), 4) };
        u32::from_ne_bytes(b)
    }

    fn read_u64(&self, at: usize) -> u64 {
        let mut b = [0u8; 8];
        // SAFETY: as in `read_u32`.
        unsafe { std::ptr::copy_nonoverlapping(self.headers.ptr.add(at), b.as_mut_ptr(), 8) };
        u64::from_ne_bytes(b)
    }

    fn write_header(&self, at: usize, bytes: &[u8]) {
        assert!(at + bytes.len() <= HEADER_SIZE);
        // SAFETY: in bounds (asserted); only the daemon writes the entry between CQE and
        // commit, and only one reply is written per request (under `done`).
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.headers.ptr.add(at), bytes.len())
        };
    }

    /// Writes a reply (an out header and its arguments, as fuser hands them to `writev`)
    /// into the entry; one that does not fit becomes EIO.
    fn write_reply(&self, data: &[IoSlice<'_>]) -> io::Result<()> {
        let total: usize = data.iter().map(|b| b.len()).sum();
        if total < OUT_HEADER || total - OUT_HEADER > self.payload.len() {
            let unique = data
                .first()
                .filter(|b| b.len() >= OUT_HEADER)
                .map_or(0, |b| {
                    u64::from_ne_bytes(b[8..16].try_into().unwrap_or_default())
                });
            self.write_error(unique, libc::EIO);
            return Err(io::Error::other(format!(
                "reply of {total} bytes does not fit an io_uring entry"
            )));
        }
        let mut off = 0;
        for buf in data {
            let mut src: &[u8] = buf;
            while !src.is_empty() {
                let n = if off < OUT_HEADER {
                    let n = (OUT_HEADER - off).min(src.len());
                    self.write_header(off, &src[..n]);
                    n
                } else {
                    // SAFETY: `off - OUT_HEADER + src.len() <= total - OUT_HEADER <=
                    // payload.len()`, checked above; ownership as in `write_header`.
                    unsafe {
                        std::ptr::copy_nonoverlapping(
                            src.as_ptr(),
                            self.payload.ptr.add(off - OUT_HEADER),
                            src.len(),
                        )
                    };
                    src.len()
                };
                off += n;
                src = &src[n..];
            }
        }
        self.write_header(ENT_PAYLOAD_SZ, &((total - OUT_HEADER) as u32).to_ne_bytes());
        Ok(())
    }

    /// An error reply with no arguments.
    fn write_error(&self, unique: u64, errno: i32) {
        let mut h = [0u8; OUT_HEADER];
        h[0..4].copy_from_slice(&(OUT_HEADER as u32).to_ne_bytes());
        h[4..8].copy_from_slice(&(-errno).to_ne_bytes());
        h[8..16].copy_from_slice(&unique.to_ne_bytes());
        self.write_header(0, &h);
        self.write_header(ENT_PAYLOAD_SZ, &0u32.to_ne_bytes());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, bool> {
        self.done
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn mark_done(&self) {
        *self.lock() = true;
        self.replied.notify_all();
    }

    /// Waits until the current request's reply is written (a filesystem may reply from
    /// another thread after its method returned), then makes the slot ready for the next.
    fn wait_done(&self) {
        let mut done = self.lock();
        while !*done {
            done = self
                .replied
                .wait(done)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        *done = false;
    }
}

/// Sends a reply into the io_uring entry its request came in (fuser's `ReplySender::Ring`).
#[derive(Debug, Clone)]
pub(crate) struct RingReply {
    slot: Arc<Slot>,
    /// /dev/fuse, for what is no reply: passthrough backing ids.
    ch: ChannelSender,
}

impl RingReply {
    pub(crate) fn send(&self, data: &[IoSlice<'_>]) -> io::Result<()> {
        let mut done = self.slot.lock();
        if *done {
            return Err(io::Error::other("a second reply to one request"));
        }
        let res = self.slot.write_reply(data);
        *done = true;
        drop(done);
        self.slot.replied.notify_all();
        res
    }

    pub(crate) fn channel(&self) -> &ChannelSender {
        &self.ch
    }
}

/// One queue thread's ring and entries.
struct QueueRing {
    qid: u16,
    ring: IoUring<squeue::Entry128, cqueue::Entry>,
    slots: Vec<Arc<Slot>>,
}

/// The rings and buffers of a session, made before the INIT reply: once INIT grants
/// io_uring, the kernel holds every request until each queue has registered an entry (or a
/// registration failed), so nothing that can fail may stand between the INIT reply and the
/// registrations except the registrations themselves; and `control` can always turn the
/// connection's io_uring off (see [`disable`]).
pub(crate) struct Rings {
    params: RingParams,
    queues: Vec<QueueRing>,
    control: IoUring<squeue::Entry128, cqueue::Entry>,
}

impl std::fmt::Debug for Rings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rings")
            .field("params", &self.params)
            .finish()
    }
}

impl Rings {
    pub(crate) fn params(&self) -> RingParams {
        self.params
    }
}

/// Makes the rings and buffers of `params`.
pub(crate) fn prepare(params: RingParams) -> io::Result<Rings> {
    let mut queues = Vec::with_capacity(params.queues * params.threads_per_queue);
    for qid in 0..params.queues {
        let qid = u16::try_from(qid).map_err(|_| io::Error::other("too many queues"))?;
        for _ in 0..params.threads_per_queue {
            let ring = new_ring((2 * DEPTH) as u32)?;
            let mut slots = Vec::with_capacity(DEPTH);
            for _ in 0..DEPTH {
                slots.push(Arc::new(Slot::new(params.payload_size)?));
            }
            queues.push(QueueRing { qid, ring, slots });
        }
    }
    Ok(Rings {
        params,
        queues,
        control: new_ring(2)?,
    })
}

/// Turns io_uring off for the connection: the kernel does so when a registration fails
/// (`fc->io_uring = 0`, waking the requests it held), and one for a queue that does not
/// exist always fails (EINVAL). Requests then keep coming through /dev/fuse.
fn disable(control: &mut IoUring<squeue::Entry128, cqueue::Entry>, fd: i32) {
    let sqe = command(fd, CMD_REGISTER, u16::MAX, 0, usize::MAX);
    // SAFETY: the command carries no pointer (and is refused before any would be read).
    if unsafe { control.submission().push(&sqe) }.is_ok() {
        let _ = control.submit_and_wait(1);
    }
}

/// Starts a thread per ring. Returns their handles and whether every ring registered; on
/// a failure io_uring is turned off for the connection (the threads that registered are
/// ended by the kernel at unmount) and requests keep coming through /dev/fuse.
pub(crate) fn start<FS: Filesystem>(
    se: impl Fn(String) -> SessionEventLoop<FS>,
    rings: Rings,
    served: &Arc<AtomicU64>,
) -> (Vec<JoinHandle<io::Result<()>>>, Result<(), String>) {
    let Rings {
        params,
        queues,
        mut control,
    } = rings;
    let (tx, rx) = mpsc::channel();
    let mut handles = Vec::new();
    let mut outcome = Ok(());
    let mut fd = -1;
    for (i, queue) in queues.into_iter().enumerate() {
        let name = format!("fuser-ring-{}.{}", queue.qid, i % params.threads_per_queue);
        let event_loop = se(name.clone());
        fd = event_loop.ch.as_fd().as_raw_fd();
        let tx = tx.clone();
        let served = served.clone();
        match thread::Builder::new()
            .name(name)
            .spawn(move || serve(event_loop, queue, &tx, &served))
        {
            Ok(h) => handles.push(h),
            Err(e) => {
                outcome = Err(format!("cannot start a queue thread: {e}"));
                break;
            }
        }
    }
    drop(tx);
    for _ in 0..handles.len() {
        let report = rx
            .recv()
            .unwrap_or_else(|_| Err("a queue thread ended during setup".to_owned()));
        if let Err(e) = report
            && outcome.is_ok()
        {
            outcome = Err(e);
        }
    }
    if outcome.is_err() && fd >= 0 {
        disable(&mut control, fd);
    }
    (handles, outcome)
}

/// The SQE of one command for `slot`.
fn command(fd: i32, op: u32, qid: u16, commit_id: u64, idx: usize) -> squeue::Entry128 {
    // struct fuse_uring_cmd_req { u64 flags; u64 commit_id; u16 qid; u8 padding[6]; }
    let mut cmd = [0u8; 80];
    cmd[8..16].copy_from_slice(&commit_id.to_ne_bytes());
    cmd[16..18].copy_from_slice(&qid.to_ne_bytes());
    opcode::UringCmd80::new(types::Fd(fd), op)
        .cmd(cmd)
        .build()
        .user_data(idx as u64)
}

/// A REGISTER for `slot`, whose iovecs `iov` must stay put until the command completes.
fn register(fd: i32, qid: u16, idx: usize, iov: &[libc::iovec; 2]) -> squeue::Entry128 {
    let sqe = opcode::UringCmd80::new(types::Fd(fd), CMD_REGISTER)
        .cmd({
            let mut cmd = [0u8; 80];
            cmd[16..18].copy_from_slice(&qid.to_ne_bytes());
            cmd
        })
        .addr(Some(iov.as_ptr() as u64))
        .build()
        .user_data(idx as u64);
    // The kernel takes the iovec count from `sqe->len` (it must be 2), which io-uring's
    // UringCmd80 leaves at 0: set it in the raw SQE (`struct io_uring_sqe`, `len` is the
    // u32 at byte 24 of its first 64 bytes).
    // SAFETY: Entry128 is `#[repr(C)]` over the 64-byte `io_uring_sqe` and 64 command
    // bytes, 128 bytes with no padding; every bit pattern is a valid value of it.
    let mut raw: [u8; 128] = unsafe { std::mem::transmute(sqe) };
    raw[24..28].copy_from_slice(&2u32.to_ne_bytes());
    // SAFETY: as above.
    unsafe { std::mem::transmute::<[u8; 128], squeue::Entry128>(raw) }
}

fn new_ring(entries: u32) -> io::Result<IoUring<squeue::Entry128, cqueue::Entry>> {
    // Completions need no interrupt of a running task: the queue thread takes them when it
    // waits. (Not SINGLE_ISSUER: the ring is made by the thread that answers INIT.)
    IoUring::<squeue::Entry128, cqueue::Entry>::builder()
        .setup_coop_taskrun()
        .build(entries)
        .or_else(|_| IoUring::<squeue::Entry128, cqueue::Entry>::builder().build(entries))
}

/// Runs the calling thread on `cpu` when it may run there: the kernel fills queue N with the
/// requests of tasks on CPU N, so their wake-ups stay on that CPU. A thread confined to other
/// CPUs (taskset, a cpuset) stays as it is.
fn pin_to(cpu: usize) {
    // SAFETY: cpu_set_t is plain data (all zeroes is the empty set); the calls get its size
    // and a valid pointer; CPU_ISSET/CPU_SET check `cpu` against the set's size.
    unsafe {
        let mut allowed: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut allowed) != 0
            || cpu >= libc::CPU_SETSIZE as usize
            || !libc::CPU_ISSET(cpu, &allowed)
        {
            return;
        }
        let mut one: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut one);
        let _ = libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &one);
    }
}

/// Errors that mean the connection is gone, not that something is wrong.
fn is_teardown(errno: i32) -> bool {
    matches!(
        errno,
        libc::ENOTCONN | libc::ECONNABORTED | libc::ECANCELED | libc::ENODEV
    )
}

/// One queue thread: registers its entries, reports, then serves until the kernel ends
/// every entry.
fn serve<FS: Filesystem>(
    se: SessionEventLoop<FS>,
    queue: QueueRing,
    report: &mpsc::Sender<Result<(), String>>,
    served: &AtomicU64,
) -> io::Result<()> {
    let fd = se.ch.as_fd().as_raw_fd();
    let QueueRing {
        qid,
        mut ring,
        slots,
    } = queue;
    let payload_size = slots.first().map_or(0, |s| s.payload.len());
    pin_to(usize::from(qid));
    // The kernel writes into these until it ends every entry: on any early return they
    // are leaked rather than freed under it; they are freed once every entry has ended.
    let slots = ManuallyDrop::new(slots);
    let iovs: ManuallyDrop<Vec<[libc::iovec; 2]>> = ManuallyDrop::new(
        slots
            .iter()
            .map(|s| {
                [
                    libc::iovec {
                        iov_base: s.headers.ptr.cast(),
                        iov_len: HEADER_SIZE,
                    },
                    libc::iovec {
                        iov_base: s.payload.ptr.cast(),
                        iov_len: s.payload.len(),
                    },
                ]
            })
            .collect(),
    );
    for (idx, iov) in iovs.iter().enumerate() {
        let sqe = register(fd, qid, idx, iov);
        // SAFETY: the iovecs and the buffers they point at are freed only after every
        // entry's last completion (leaked on an early return).
        if unsafe { ring.submission().push(&sqe) }.is_err() {
            let _ = report.send(Err("io_uring submission queue full".to_owned()));
            return Ok(());
        }
    }
    if let Err(e) = ring.submit() {
        let _ = report.send(Err(format!("io_uring submit failed: {e}")));
        return Ok(());
    }
    // A REGISTER that fails completes at once; one that succeeds completes only with a
    // request.
    let mut pending: VecDeque<(usize, i32)> = VecDeque::new();
    let mut live = DEPTH;
    let mut failed = None;
    for cqe in ring.completion() {
        let (idx, res) = (cqe.user_data() as usize, cqe.result());
        if res < 0 {
            live -= 1;
            failed.get_or_insert(res);
        } else {
            pending.push_back((idx, res));
        }
    }
    if let Some(res) = failed {
        let _ = report.send(Err(format!(
            "the kernel refused to register a ring entry: {}",
            io::Error::from_raw_os_error(-res)
        )));
    } else {
        let _ = report.send(Ok(()));
    }

    let mut scratch = vec![0u64; (IN_HEADER + OP_IN_SIZE + payload_size).div_ceil(8)];
    let mut warned = false;
    while live > 0 {
        let Some((idx, res)) = pending.pop_front() else {
            match ring.submit_and_wait(1) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                Err(e) => {
                    warn!("io_uring queue {qid}: {e}; the thread stops");
                    return Err(e);
                }
            }
            for cqe in ring.completion() {
                pending.push_back((cqe.user_data() as usize, cqe.result()));
            }
            continue;
        };
        if res < 0 {
            live -= 1;
            if !is_teardown(-res) && !warned {
                warned = true;
                warn!(
                    "io_uring queue {qid}: an entry ended: {}",
                    io::Error::from_raw_os_error(-res)
                );
            }
            continue;
        }
        let Some(slot) = slots.get(idx) else {
            continue;
        };
        let commit_id = slot.read_u64(ENT_COMMIT_ID);
        handle(&se, slot, &mut scratch);
        served.fetch_add(1, Ordering::Relaxed);
        let sqe = command(fd, CMD_COMMIT_AND_FETCH, qid, commit_id, idx);
        // SAFETY: the command carries no pointer; the entry's buffers were registered above.
        while unsafe { ring.submission().push(&sqe) }.is_err() {
            ring.submit()?;
        }
        if !pending.is_empty() {
            ring.submit()?;
        }
    }
    debug!("io_uring queue {qid}: every entry ended");
    drop(ring);
    drop(ManuallyDrop::into_inner(iovs));
    drop(ManuallyDrop::into_inner(slots));
    Ok(())
}

/// Serves the request in `slot`: copies it into `scratch` in /dev/fuse layout, dispatches
/// it, and waits for its reply to be written into the slot.
fn handle<FS: Filesystem>(se: &SessionEventLoop<FS>, slot: &Arc<Slot>, scratch: &mut [u64]) {
    let in_len = slot.read_u32(0) as usize;
    let unique = slot.read_u64(8);
    let payload_sz = slot.read_u32(ENT_PAYLOAD_SZ) as usize;
    let op_sz = in_len.checked_sub(IN_HEADER + payload_sz);
    let Some(op_sz) = op_sz.filter(|&n| n <= OP_IN_SIZE && payload_sz <= slot.payload.len()) else {
        warn!("io_uring request {unique}: bad sizes (len {in_len}, payload {payload_sz})");
        slot.write_error(unique, libc::EIO);
        return;
    };
    let base = scratch.as_mut_ptr().cast::<u8>();
    debug_assert!(in_len <= scratch.len() * 8);
    // SAFETY: `in_len <= 40 + 128 + payload_size <= scratch` bytes; the slot's buffers are
    // the daemon's between the CQE and the commit; the regions do not overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(slot.headers.ptr, base, IN_HEADER);
        std::ptr::copy_nonoverlapping(slot.headers.ptr.add(OP_IN), base.add(IN_HEADER), op_sz);
        std::ptr::copy_nonoverlapping(slot.payload.ptr, base.add(IN_HEADER + op_sz), payload_sz);
    }
    // SAFETY: initialised above (the whole buffer was zeroed at allocation), 8-aligned.
    let data = unsafe { std::slice::from_raw_parts(base.cast_const(), in_len) };
    let reply = RingReply {
        slot: slot.clone(),
        ch: se.ch.sender(),
    };
    match RequestWithSender::with_ring(se.ch.sender(), reply, data) {
        Some(req) => match req.request.operation() {
            Ok(Operation::Destroy(_)) => req.reply::<ReplyEmpty>().ok(),
            // No reply is sent to these, and the kernel sends them through /dev/fuse, not
            // the rings; should one come here, the entry still needs its commit.
            Ok(Operation::Forget(_) | Operation::BatchForget(_) | Operation::Interrupt(_)) => {
                req.dispatch(se);
                slot.write_error(unique, libc::ENOSYS);
                slot.mark_done();
            }
            // A queue has one thread: a panic must not take it (and with it every later
            // request from that CPU) down. The reply, dropped while unwinding, sends EIO.
            _ => {
                let dispatched = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    req.dispatch(se);
                }));
                if dispatched.is_err() {
                    warn!("io_uring request {unique}: the filesystem panicked; replied EIO");
                }
            }
        },
        None => {
            slot.write_error(unique, libc::EIO);
            slot.mark_done();
        }
    }
    slot.wait_done();
}
