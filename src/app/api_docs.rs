//! The agent API's reference (`/api/docs`), drawn from the OpenAPI document
//! the server answers at `/api/v1/openapi.json`: every endpoint with its
//! parameters, body, answers and problem codes, then the objects. Public,
//! like the document; nothing is loaded from elsewhere.

use crate::api::load_api_reference;
use crate::model::{ApiReference, EndpointDoc, FieldDoc, ResponseDoc, SchemaDoc};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn ApiDocsPage() -> impl IntoView {
    let reference = Resource::new(|| (), |_| load_api_reference());
    view! {
        <Title text="API reference · Holdpoint"/>
        <div class="api-docs">
            <header class="api-docs-head">
                <a class="brand" href="/">"Holdpoint"</a>
                <span class="muted">"Agent API reference"</span>
                <a class="button" href="/api/v1/openapi.json" download="holdpoint-openapi.json">"openapi.json"</a>
            </header>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match reference.await {
                        Ok(reference) => view! { <Reference reference/> }.into_any(),
                        Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </div>
    }
}

#[component]
fn Reference(reference: ApiReference) -> impl IntoView {
    let toc = reference
        .endpoints
        .iter()
        .map(|endpoint| {
            let href = format!("#{}", endpoint.anchor());
            view! {
                <li><a href=href><span class=method_class(&endpoint.method)>{endpoint.method.clone()}</span>" "{endpoint.path.clone()}</a></li>
            }
        })
        .collect_view();
    let schema_toc = reference
        .schemas
        .iter()
        .map(|schema| {
            let href = format!("#schema-{}", schema.name);
            view! { <li><a href=href>{schema.name.clone()}</a></li> }
        })
        .collect_view();
    view! {
        <nav class="api-toc" aria-label="Endpoints">
            <h2>"Endpoints"</h2>
            <ul>{toc}</ul>
            <h2>"Objects"</h2>
            <ul>{schema_toc}</ul>
        </nav>
        <main class="api-main">
            <h1>{reference.title.clone()} " " <span class="muted version">{reference.version.clone()}</span></h1>
            <p>{code_spans(&reference.description)}</p>
            <p class="muted">
                "Every answer carries " <code>"X-Request-Id"</code>
                ": yours when you sent one (at most 64 letters, digits and " <code>"-_.:"</code>
                "), else one the server made. Errors are " <code>"application/problem+json"</code>
                " with a stable " <code>"code"</code> "."
            </p>
            {reference.endpoints.into_iter().map(|endpoint| view! { <Endpoint endpoint/> }).collect_view()}
            <h2 class="api-objects">"Objects"</h2>
            {reference.schemas.into_iter().map(|schema| view! { <Schema schema/> }).collect_view()}
        </main>
    }
}

#[component]
fn Endpoint(endpoint: EndpointDoc) -> impl IntoView {
    let anchor = endpoint.anchor();
    let body = endpoint.body.clone().map(|(schema, media)| {
        view! {
            <h4>"Body"</h4>
            <p><SchemaLink name=schema/> " as " <code>{media}</code></p>
        }
    });
    let params = (!endpoint.params.is_empty()).then(|| {
        view! {
            <h4>"Parameters"</h4>
            <Fields fields=endpoint.params.clone() with_location=true/>
        }
    });
    view! {
        <section class="api-endpoint" id=anchor>
            <h3>
                <span class=method_class(&endpoint.method)>{endpoint.method.clone()}</span>
                " " <code class="api-path">{endpoint.path.clone()}</code>
            </h3>
            <p>{code_spans(&endpoint.summary)}</p>
            {(!endpoint.description.is_empty()).then(|| view! { <p class="muted">{code_spans(&endpoint.description)}</p> })}
            {params}
            {body}
            <h4>"Answers"</h4>
            <table class="api-table">
                <thead><tr><th>"Status"</th><th>"Body"</th><th>"When"</th></tr></thead>
                <tbody>
                    {endpoint.responses.into_iter().map(|response| view! { <Response response/> }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[component]
fn Response(response: ResponseDoc) -> impl IntoView {
    let class = if response.status < 400 {
        "status ok"
    } else {
        "status problem"
    };
    let body = response
        .body
        .map(|(schema, _)| view! { <SchemaLink name=schema/> });
    let codes = (!response.codes.is_empty()).then(|| {
        view! {
            <ul class="api-codes">
                {response.codes.into_iter().map(|code| view! { <li><code>{code}</code></li> }).collect_view()}
            </ul>
        }
    });
    let description = codes.is_none().then(|| code_spans(&response.description));
    let headers = (!response.headers.is_empty()).then(|| {
        view! {
            <p class="muted">"Headers: "
                {response.headers.into_iter().map(|header| view! {
                    <span class="api-header"><code>{header.name}</code>" "{code_spans(&header.description)}" "</span>
                }).collect_view()}
            </p>
        }
    });
    view! {
        <tr>
            <td class=class>{response.status}</td>
            <td>{body}</td>
            <td>{description}{codes}{headers}</td>
        </tr>
    }
}

#[component]
fn Schema(schema: SchemaDoc) -> impl IntoView {
    let id = format!("schema-{}", schema.name);
    let values = (!schema.values.is_empty()).then(|| {
        view! {
            <p>"One of "
                {schema.values.into_iter().map(|value| view! { <code>{value}</code>" " }).collect_view()}
            </p>
        }
    });
    let fields = (!schema.fields.is_empty())
        .then(|| view! { <Fields fields=schema.fields with_location=false/> });
    view! {
        <section class="api-schema" id=id>
            <h3><code>{schema.name}</code></h3>
            <p class="muted">{code_spans(&schema.description)}</p>
            {values}
            {fields}
        </section>
    }
}

#[component]
fn Fields(fields: Vec<FieldDoc>, with_location: bool) -> impl IntoView {
    view! {
        <table class="api-table">
            <thead><tr>
                <th>"Name"</th>
                {with_location.then(|| view! { <th>"In"</th> })}
                <th>"Type"</th>
                <th>"About"</th>
            </tr></thead>
            <tbody>
                {fields.into_iter().map(|field| view! {
                    <tr>
                        <td><code>{field.name}</code>{field.required.then(|| view! { <span class="required">" required"</span> })}</td>
                        {with_location.then(|| view! { <td>{field.location.clone()}</td> })}
                        <td class="api-kind">{field.kind}</td>
                        <td>{code_spans(&field.description)}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// A schema's name, linked to its section; a plain type as it is.
#[component]
fn SchemaLink(name: String) -> impl IntoView {
    let is_object = name.chars().next().is_some_and(char::is_uppercase);
    if is_object {
        let href = format!("#schema-{name}");
        view! { <a href=href><code>{name}</code></a> }.into_any()
    } else {
        view! { <code>{name}</code> }.into_any()
    }
}

fn method_class(method: &str) -> String {
    format!("method method-{}", method.to_ascii_lowercase())
}

/// Text with `backticked` words set as code.
fn code_spans(text: &str) -> impl IntoView {
    text.split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                view! { <code>{part.to_owned()}</code> }.into_any()
            } else {
                part.to_owned().into_any()
            }
        })
        .collect_view()
}
