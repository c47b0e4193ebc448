//! Password hashing (argon2id) and the gate in front of it.
//!
//! One check costs ~19 MiB and a core for tens of milliseconds, on purpose.
//! Left unbounded, a burst of sign-ins (with made-up emails: those cost the
//! same, against a decoy hash) would hold gigabytes and every blocking thread.
//! [`PasswordChecks`] runs at most one check per core, on threads of its
//! own; the rest wait a moment in a queue of bounded length, and past that
//! are told to come back.

use argon2::password_hash::{
    self, rand_core::OsRng, Output, PasswordHash, PasswordHasher, SaltString,
};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Hashes a password with argon2id off the async runtime.
pub async fn hash_password(password: &str) -> String {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .expect("password hashing task panicked")
}

fn hash_now(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters cannot fail")
        .to_string()
}

/// A hash to verify against when the email is unknown, so that a wrong email
/// takes as long as a wrong password and does not reveal who has an account.
pub fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_now("decoy password"))
}

/// How long a sign-in may wait for its check before it is told to retry.
const MAX_WAIT: Duration = Duration::from_secs(2);
/// Sign-ins that may wait at once, per checking thread; beyond that they
/// are turned away at once rather than queued.
const WAITING_PER_SLOT: usize = 16;

/// The system is busy checking passwords: try again after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy {
    pub retry_after_secs: u64,
}

/// One password to check, for a sign-in that waits until `deadline`.
struct Job {
    password: String,
    hash: String,
    deadline: Instant,
    answer: oneshot::Sender<bool>,
}

/// Checks passwords on a few threads of its own, one per core, fed by a
/// bounded queue. Its own threads, not the runtime's blocking pool: each
/// check takes 19 MiB, which the allocator keeps per thread once freed, so
/// hundreds of pool threads would each keep their own; a few reuse theirs.
pub struct PasswordChecks {
    queue: SyncSender<Job>,
}

impl PasswordChecks {
    /// One thread per core (argon2 is CPU-bound: more would only queue).
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self::new(cores)
    }

    pub fn new(threads: usize) -> Self {
        let (queue, jobs) = sync_channel::<Job>(threads * WAITING_PER_SLOT);
        let jobs = Arc::new(Mutex::new(jobs));
        for n in 0..threads {
            let jobs = jobs.clone();
            std::thread::Builder::new()
                .name(format!("password-check-{n}"))
                .spawn(move || check_forever(&jobs))
                .expect("start a password-check thread");
        }
        Self { queue }
    }

    /// Verifies a password, or says the checks are all busy.
    pub async fn verify(&self, password: &str, hash: &str) -> Result<bool, Busy> {
        let busy = Busy {
            retry_after_secs: 1,
        };
        let (answer, verdict) = oneshot::channel();
        let job = Job {
            password: password.to_owned(),
            hash: hash.to_owned(),
            deadline: Instant::now() + MAX_WAIT,
            answer,
        };
        self.queue.try_send(job).map_err(|_| busy)?;
        // A job whose deadline passed in the queue is dropped unchecked,
        // which ends this wait too.
        match tokio::time::timeout(MAX_WAIT * 2, verdict).await {
            Ok(Ok(matches)) => Ok(matches),
            _ => Err(busy),
        }
    }
}

fn check_forever(jobs: &Mutex<Receiver<Job>>) {
    let mut memory = Vec::new();
    loop {
        let next = jobs.lock().map(|jobs| jobs.recv());
        let Ok(Ok(job)) = next else {
            return;
        };
        if Instant::now() < job.deadline {
            let _ = job
                .answer
                .send(verify_in(&mut memory, &job.password, &job.hash));
        }
    }
}

/// Whether `password` matches the PHC string `hash`, computing argon2 in
/// `memory` (grown to the hash's memory cost, and kept for the next check:
/// freeing and allocating 19 MiB per check leaves the allocator holding
/// one copy per check, hundreds of megabytes after a burst).
fn verify_in(memory: &mut Vec<Block>, password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
    let argon2 = Argon2::new(algorithm, version, params);
    let computed = Output::init_with(expected.len(), |out| {
        argon2
            .hash_password_into_with_memory(password.as_bytes(), salt, out, &mut memory[..])
            .map_err(|_| password_hash::Error::Password)
    });
    // Output compares in constant time.
    computed.is_ok_and(|computed| computed == expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verify_now(password: &str, hash: &str) -> bool {
        verify_in(&mut Vec::new(), password, hash)
    }

    #[tokio::test]
    async fn passwords_verify_only_themselves() {
        let hash = hash_password("correct horse").await;
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_now("correct horse", &hash));
        assert!(!verify_now("wrong horse", &hash));
        assert!(!verify_now("correct horse", "not a hash"));
        // Memory reused from a check with other parameters still verifies.
        let mut memory = Vec::new();
        let light = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(1024, 1, 1, None).unwrap(),
        )
        .hash_password(b"pw", &SaltString::generate(&mut OsRng))
        .unwrap()
        .to_string();
        assert!(verify_in(&mut memory, "pw", &light));
        assert!(verify_in(&mut memory, "correct horse", &hash));
        assert!(verify_in(&mut memory, "pw", &light));
    }

    #[tokio::test]
    async fn checks_beyond_the_queue_are_turned_away_at_once() {
        let checks = Arc::new(PasswordChecks::new(1));
        let hash = decoy_hash().to_owned();
        let many: Vec<_> = (0..40)
            .map(|_| {
                let (checks, hash) = (checks.clone(), hash.clone());
                tokio::spawn(async move { checks.verify("guess", &hash).await })
            })
            .collect();
        let mut busy = 0;
        for task in many {
            if task.await.expect("task").is_err() {
                busy += 1;
            }
        }
        // One running and at most 16 waiting: the others were refused.
        assert!(busy >= 40 - 1 - WAITING_PER_SLOT, "{busy} refused");
    }
}
