//! The server function of the API reference page (`/api/docs`). Public, as
//! `GET /api/v1/openapi.json` is: it describes the API and holds no one's
//! data.

use crate::model::ApiReference;
use leptos::prelude::*;

#[server(prefix = "/rpc", endpoint = "api_reference")]
pub async fn load_api_reference() -> Result<ApiReference, ServerFnError> {
    Ok(crate::server::rest::reference::reference().clone())
}
