//! The HTTP layer's shared parts: the session cookie and Origin check, and
//! the middleware every answer passes through. The router that puts pages,
//! REST, the socket and server functions together is `server::app`.

pub mod middleware;
pub mod session;
