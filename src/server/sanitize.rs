//! The preview sanitizer. Agents send HTML; approvers' browsers render it.
//! The policy keeps what a preview needs to read like a document and drops
//! anything that runs code, changes the page, or loads a remote resource
//! (a remote image would tell the sender when the approver looked).

use crate::model::reveal_hidden;
use ammonia::{Builder, UrlRelative};
use std::collections::HashSet;
use std::sync::OnceLock;

const TAGS: &[&str] = &[
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "caption",
    "code",
    "col",
    "colgroup",
    "dd",
    "del",
    "details",
    "div",
    "dl",
    "dt",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "mark",
    "ol",
    "p",
    "pre",
    "q",
    "s",
    "samp",
    "small",
    "span",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "time",
    "tr",
    "u",
    "ul",
];

fn policy() -> &'static Builder<'static> {
    static POLICY: OnceLock<Builder<'static>> = OnceLock::new();
    POLICY.get_or_init(|| {
        let mut builder = Builder::empty();
        builder
            .tags(TAGS.iter().copied().collect())
            .generic_attributes(["title", "lang", "dir"].into_iter().collect())
            .tag_attributes(
                [
                    ("a", ["href"].into_iter().collect::<HashSet<_>>()),
                    (
                        "img",
                        ["src", "alt", "width", "height"].into_iter().collect(),
                    ),
                    ("td", ["colspan", "rowspan", "align"].into_iter().collect()),
                    (
                        "th",
                        ["colspan", "rowspan", "align", "scope"]
                            .into_iter()
                            .collect(),
                    ),
                    ("ol", ["start"].into_iter().collect()),
                    ("time", ["datetime"].into_iter().collect()),
                ]
                .into_iter()
                .collect(),
            )
            // Links may leave for the web; images may only be inline data.
            .url_schemes(["http", "https", "mailto", "data"].into_iter().collect())
            .attribute_filter(|element, attribute, value| {
                let allowed = match (element, attribute) {
                    ("img", "src") => is_inline_raster_image(value),
                    ("a", "href") => scheme(value).is_some_and(|s| s != "data"),
                    _ => true,
                };
                allowed.then(|| value.into())
            })
            .url_relative(UrlRelative::Deny)
            .link_rel(Some("noopener noreferrer"))
            .set_tag_attribute_value("a", "target", "_blank")
            .strip_comments(true);
        builder
    })
}

/// Image types an `img` may carry inline. Not SVG: it is a document that can
/// hold script and links of its own.
const INLINE_IMAGE_TYPES: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/avif",
];

/// A URL's scheme as a browser reads it: entities are already decoded by the
/// HTML parser, and the URL parser drops tabs and newlines and lowercases,
/// so `DATA:`, `da&#9;ta:` and ` data:` are all `data`. None for a relative
/// or unparsable URL.
fn scheme(value: &str) -> Option<String> {
    reqwest::Url::parse(value)
        .ok()
        .map(|url| url.scheme().to_owned())
}

/// Whether an image source is a `data:` URL of a raster image type.
fn is_inline_raster_image(value: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(value) else {
        return false;
    };
    if url.scheme() != "data" {
        return false;
    }
    let mime = url
        .path()
        .split([';', ','])
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    INLINE_IMAGE_TYPES.contains(&mime.as_str())
}

/// Sanitizes an agent's HTML preview for storage and display.
pub fn sanitize_preview(html: &str) -> String {
    // Bidirectional controls and zero-width characters are shown as their
    // escapes (`\u{202E}`): text that displays otherwise than it reads
    // has no place in what a person approves. After cleaning, when
    // entities (`&#x202E;`, `&rlm;`) have become characters; the escape
    // holds no character HTML gives a meaning to.
    reveal_hidden(&policy().clean(html).to_string()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::sanitize_preview;

    #[test]
    fn hidden_characters_are_shown_escaped() {
        let clean = sanitize_preview(
            "<p>Refund $24\u{202E}0001 to <a href=\"https://example.com/\u{200B}x\">Lila</a>\
             &#x202E;&rlm;&zwnj;</p>",
        );
        assert!(
            !clean.contains('\u{200F}') && !clean.contains('\u{200C}'),
            "{clean}"
        );
        assert!(
            !clean.contains('\u{202E}') && !clean.contains('\u{200B}'),
            "{clean}"
        );
        assert!(clean.contains("Refund $24\\u{202E}0001"), "{clean}");
    }

    #[test]
    fn keeps_document_structure() {
        let html =
            "<h2>Refund</h2><p>To <strong>Lila</strong></p><table><tr><td>$240</td></tr></table>\
                    <pre><code>x = 1</code></pre><ul><li>a</li></ul><blockquote>q</blockquote>";
        let clean = sanitize_preview(html);
        for tag in [
            "<h2>",
            "<strong>",
            "<td>",
            "<pre><code>",
            "<li>",
            "<blockquote>",
        ] {
            assert!(clean.contains(tag), "{tag} missing from {clean}");
        }
    }

    #[test]
    fn drops_scripts_handlers_styles_forms_and_frames() {
        let html = "<script>alert(1)</script><img src=x onerror=alert(1)>\
                    <svg onload=alert(1)></svg><p style=\"color:red\" onclick=\"x()\">t</p>\
                    <form action=/x><input name=a></form><iframe src=//evil></iframe>\
                    <style>p{}</style><a href=\"javascript:alert(1)\">j</a>";
        let clean = sanitize_preview(html);
        for bad in [
            "script",
            "onerror",
            "svg",
            "onload",
            "style",
            "onclick",
            "form",
            "input",
            "iframe",
            "javascript",
        ] {
            assert!(!clean.contains(bad), "{bad} survived: {clean}");
        }
        assert!(clean.contains("<p>t</p>"));
    }

    #[test]
    fn links_are_safe_and_images_inline_only() {
        let clean = sanitize_preview("<a href=\"https://example.com/o/1\">order</a>");
        assert!(clean.contains("rel=\"noopener noreferrer\""), "{clean}");
        assert!(clean.contains("href=\"https://example.com/o/1\""));

        let remote = sanitize_preview("<img src=\"https://tracker.example/p.gif\" alt=t>");
        assert!(!remote.contains("tracker"), "{remote}");
        let relative = sanitize_preview("<img src=\"/pixel.gif\"><a href=\"/x\">x</a>");
        assert!(
            !relative.contains("pixel") && !relative.contains("href"),
            "{relative}"
        );
        let inline = sanitize_preview("<img src=\"data:image/png;base64,iVBORw0KGgo=\" alt=chart>");
        assert!(
            inline.contains("src=\"data:image/png;base64,iVBORw0KGgo=\""),
            "{inline}"
        );
        let data_link = sanitize_preview("<a href=\"data:text/html,<script>x</script>\">d</a>");
        assert!(!data_link.contains("data:"), "{data_link}");
    }

    #[test]
    fn data_urls_are_for_raster_images_only_however_they_are_spelled() {
        for link in [
            "<a href=\"DATA:text/html,<script>x</script>\">d</a>",
            "<a href=\"da&#9;ta:text/html,x\">d</a>",
            "<a href=\"da&#x0A;ta:text/html,x\">d</a>",
            "<a href=\" data:text/html,x\">d</a>",
            "<a href=\"Data:image/png;base64,iVBORw0KGgo=\">d</a>",
        ] {
            let clean = sanitize_preview(link);
            assert!(!clean.contains("href"), "{link} gave {clean}");
        }
        for image in [
            "<img src=\"data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=\">",
            "<img src=\"DATA:IMAGE/SVG+XML,<svg onload=alert(1)>\">",
            "<img src=\"data:text/html,<script>x</script>\">",
            "<img src=\"da&#9;ta:image/svg+xml,<svg/>\">",
            "<img src=\"data:,plain\">",
            "<img src=\"https://tracker.example/p.png\">",
        ] {
            let clean = sanitize_preview(image);
            assert!(!clean.contains("src"), "{image} gave {clean}");
        }
        for image in [
            "<img src=\"DATA:image/PNG;base64,iVBORw0KGgo=\">",
            "<img src=\"data:image/jpeg;base64,/9j/4AAQ\">",
        ] {
            let clean = sanitize_preview(image);
            assert!(clean.contains("src="), "{image} gave {clean}");
        }
    }
}
