//! Traffic between pods of the lab: bounded `ping` under `ip netns exec`,
//! and a TCP transfer between two threads that each entered a pod's network
//! namespace with `setns(2)` (which moves only the calling thread). The
//! receiver digests what it read and answers with the length and digest,
//! the sender compares them with its own; the receiver also reports the
//! peer address it saw, so a test can tell that no NAT happened in between.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::Output;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use nix::sched::CloneFlags;

use super::fixture::run_bounded;

/// The port the receiver listens on, inside its own pod namespace.
const PORT: u16 = 5201;
/// How long any one connect, read or write may block.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a whole transfer may take, accept included.
const TRANSFER_DEADLINE: Duration = Duration::from_secs(60);

/// `ping -c COUNT -i 0.2 -W 1 [EXTRA] TO` from the pod namespace `from`.
pub fn ping(from: &str, to: Ipv4Addr, count: u32, extra: &[&str]) -> Output {
    let count = count.to_string();
    let to = to.to_string();
    let args: Vec<&str> = [
        "ip", "netns", "exec", from, "ping", "-n", "-c", &count, "-i", "0.2", "-W", "1",
    ]
    .into_iter()
    .chain(extra.iter().copied())
    .chain([to.as_str()])
    .collect();
    run_bounded(&args, None, &[])
}

/// What the receiver saw.
pub struct Received {
    pub peer: SocketAddr,
    pub length: u64,
}

/// Move the calling thread into `/run/netns/NS`.
fn enter(ns: &str) -> Result<(), String> {
    let path = format!("/run/netns/{ns}");
    let file = std::fs::File::open(&path).map_err(|e| format!("{path}: {e}"))?;
    nix::sched::setns(&file, CloneFlags::CLONE_NEWNET).map_err(|e| format!("setns {path}: {e}"))
}

/// FNV-1a, 64 bits: enough to tell a corrupted or truncated stream.
#[derive(Clone, Copy)]
struct Digest(u64);

impl Digest {
    fn new() -> Digest {
        Digest(0xcbf2_9ce4_8422_2325)
    }

    fn update(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// `length` deterministic, non-repeating-looking bytes (xorshift64), so a
/// misordered or duplicated segment changes the digest.
pub fn payload(length: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

fn receive(ns: String, expected: u64, ready: mpsc::Sender<Result<(), String>>) -> Result<Received, String> {
    let listener = enter(&ns).and_then(|()| {
        let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, PORT)).map_err(|e| format!("bind: {e}"))?;
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        Ok(listener)
    });
    let listener = match listener {
        Ok(listener) => {
            let _ = ready.send(Ok(()));
            listener
        }
        Err(e) => {
            let _ = ready.send(Err(e.clone()));
            return Err(e);
        }
    };
    let deadline = Instant::now() + TRANSFER_DEADLINE;
    let (mut stream, peer) = loop {
        match listener.accept() {
            Ok(accepted) => break accepted,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(format!("accept in {ns}: {e}")),
        }
    };
    stream.set_nonblocking(false).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(IO_TIMEOUT)).map_err(|e| e.to_string())?;
    stream.set_write_timeout(Some(IO_TIMEOUT)).map_err(|e| e.to_string())?;
    let mut digest = Digest::new();
    let mut length: u64 = 0;
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = stream
            .read(&mut buffer)
            .map_err(|e| format!("read after {length} bytes: {e}"))?;
        if read == 0 {
            break;
        }
        digest.update(&buffer[..read]);
        length += read as u64;
        if length > expected || Instant::now() > deadline {
            return Err(format!("receiver gave up after {length} of {expected} bytes"));
        }
    }
    let mut answer = length.to_be_bytes().to_vec();
    answer.extend_from_slice(&digest.0.to_be_bytes());
    stream.write_all(&answer).map_err(|e| format!("answer: {e}"))?;
    Ok(Received { peer, length })
}

fn send(ns: String, to: Ipv4Addr, data: Vec<u8>) -> Result<(), String> {
    enter(&ns)?;
    let address = SocketAddr::from((to, PORT));
    let mut stream = TcpStream::connect_timeout(&address, IO_TIMEOUT).map_err(|e| format!("connect {address}: {e}"))?;
    stream.set_read_timeout(Some(IO_TIMEOUT)).map_err(|e| e.to_string())?;
    stream.set_write_timeout(Some(IO_TIMEOUT)).map_err(|e| e.to_string())?;
    stream
        .write_all(&data)
        .map_err(|e| format!("write to {address}: {e}"))?;
    stream.shutdown(Shutdown::Write).map_err(|e| e.to_string())?;
    let mut answer = [0u8; 16];
    stream
        .read_exact(&mut answer)
        .map_err(|e| format!("answer from {address}: {e}"))?;
    let mut digest = Digest::new();
    digest.update(&data);
    let length = u64::from_be_bytes(answer[..8].try_into().map_err(|_| "short answer")?);
    let received = u64::from_be_bytes(answer[8..].try_into().map_err(|_| "short answer")?);
    if length != data.len() as u64 || received != digest.0 {
        return Err(format!(
            "{address} received {length} bytes with digest {received:016x}, sent {} with {:016x}",
            data.len(),
            digest.0
        ));
    }
    Ok(())
}

/// Send `length` bytes over TCP from the pod namespace `client` to a
/// receiver in the pod namespace `server` listening on `server_address`;
/// what the receiver saw, or why the transfer failed.
pub fn tcp_transfer(server: &str, server_address: Ipv4Addr, client: &str, length: usize) -> Result<Received, String> {
    let (ready_tx, ready_rx) = mpsc::channel();
    let expected = length as u64;
    let server_ns = server.to_string();
    let receiver = thread::spawn(move || receive(server_ns, expected, ready_tx));
    match ready_rx.recv_timeout(IO_TIMEOUT) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(format!("receiver in {server}: {e}")),
        Err(e) => return Err(format!("receiver in {server} never listened: {e}")),
    }
    let client_ns = client.to_string();
    let data = payload(length);
    let sender = thread::spawn(move || send(client_ns, server_address, data));
    let sent = sender.join().map_err(|_| "sender panicked".to_string())?;
    // A failed sender may leave the receiver waiting for a connection until
    // its deadline; report the sender's error rather than waiting for that.
    sent?;
    let received = receiver.join().map_err(|_| "receiver panicked".to_string())??;
    if received.length != expected {
        return Err(format!("received {} of {expected} bytes", received.length));
    }
    Ok(received)
}
