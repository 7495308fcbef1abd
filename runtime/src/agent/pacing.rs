//! The agent's pace: rounds forever (or once), the wait between them
//! (the interval with ±10 % jitter, so a fleet does not poll in step), and
//! the backoff after failed fetches (twice as long per failure, at most ten
//! intervals); the heartbeat `/healthz` checks.

use std::time::Duration;

use tracing::{info, warn};

use super::{metrics, Agent, Round};

impl Agent {
    /// Run rounds forever (or once), sleeping between them.
    pub fn run(&mut self, once: bool) -> Round {
        if let Some(address) = self.config.listen {
            match metrics::serve(address, self.metrics()) {
                Ok(bound) => info!(%bound, "serving /metrics and /healthz"),
                Err(e) => warn!(%address, error = %e, "cannot serve /metrics and /healthz"),
            }
        }
        loop {
            let round = self.round();
            if once {
                return round;
            }
            let delay = self.delay(round);
            self.metrics.beat(delay * 3 + self.config.interval);
            std::thread::sleep(delay);
        }
    }

    /// The wait before the next round: the interval with ±10 % jitter, or
    /// after failed fetches twice as long per failure, at most ten intervals.
    fn delay(&mut self, round: Round) -> Duration {
        let base = if round == Round::Unreachable {
            let factor = 1u32 << self.failed_fetches.min(4);
            (self.config.interval * factor).min(self.config.interval * 10)
        } else {
            self.config.interval
        };
        // xorshift64
        self.random ^= self.random << 13;
        self.random ^= self.random >> 7;
        self.random ^= self.random << 17;
        let permille = 900 + (self.random % 201);
        base * u32::try_from(permille).unwrap_or(1000) / 1000
    }
}
