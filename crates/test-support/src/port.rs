//! Ephemeral loopback ports for servers started by tests.

use std::net::{Ipv4Addr, TcpListener};

use crate::HarnessError;

/// Returns a TCP port on 127.0.0.1 that was free a moment ago.
///
/// The port is released before returning so a child process can bind it; another process could
/// take it in between, which is why the launchers retry with a new port when a child exits early.
pub fn free_port() -> Result<u16, HarnessError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| HarnessError::io("binding 127.0.0.1:0 to find a free port", e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| HarnessError::io("reading the address of a bound socket", e))?;
    Ok(addr.port())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn free_port_is_nonzero_and_bindable() {
        let port = free_port().unwrap();
        assert_ne!(port, 0);
        TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
    }
}
