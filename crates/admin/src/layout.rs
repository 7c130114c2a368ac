//! The frame of every page: the navigation, a small inline style sheet, and the hidden CSRF field of a form.

use crate::auth::SignedIn;
use maud::{DOCTYPE, Markup, PreEscaped, html};

/// The pages of the navigation: path and title.
pub const NAV: &[(&str, &str)] = &[
    ("/admin/config", "Configuration"),
    ("/admin/products", "Products"),
    ("/admin/sync-status", "Sync Status"),
    ("/admin/sla", "SLA"),
    ("/admin/dead-letters", "Dead letters"),
];

/// The style of every page (small, inline: no extra request).
pub const STYLE: &str = r#"
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d1d1f;background:#f5f5f7}
header{background:#1d1d1f;color:#fff;display:flex;align-items:center;gap:1.2em;padding:.55em 1.2em;flex-wrap:wrap}
header a{color:#e8e8ed;text-decoration:none;padding:.2em .1em}
header a[aria-current]{color:#fff;border-bottom:2px solid #fa0f00}
header .brand{font-weight:600;color:#fff;margin-right:.8em}
header form{margin-left:auto;display:flex;gap:.6em;align-items:center}
header button{background:none;border:1px solid #8e8e93;color:#fff;border-radius:4px;padding:.2em .7em;cursor:pointer}
main{max-width:72em;margin:1.2em auto;padding:0 1.2em}
h1{font-size:1.45em;margin:.3em 0 .8em}
section,.card{background:#fff;border:1px solid #d2d2d7;border-radius:6px;padding:1em 1.2em;margin-bottom:1.2em}
label{font-weight:600}
input[type=text],input[type=password],input[type=url],input[type=number],select,textarea{font:inherit;padding:.35em .5em;border:1px solid #aeaeb2;border-radius:4px;width:100%;max-width:32em}
button,.button{font:inherit;background:#0a66d8;color:#fff;border:0;border-radius:4px;padding:.45em 1.1em;cursor:pointer}
button.secondary{background:#e8e8ed;color:#1d1d1f}
:focus-visible{outline:3px solid #0a66d8;outline-offset:2px}
.notice{background:#eef5ff;border-left:4px solid #0a66d8;padding:.6em .9em;margin-bottom:1em}
.error{color:#b00020}
.error-box{background:#fdecee;border-left:4px solid #b00020;padding:.6em .9em;margin-bottom:1em}
.ok-box{background:#eaf7ee;border-left:4px solid #1e8e3e;padding:.6em .9em;margin-bottom:1em}
.help{color:#6e6e73;font-size:.9em;margin:.2em 0 0}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:.4em .6em;border-bottom:1px solid #e5e5ea;vertical-align:top}
th{font-size:.85em;text-transform:uppercase;letter-spacing:.03em;color:#6e6e73}
.muted{color:#6e6e73}
"#;

/// A page of the console for a signed-in user: the navigation (the current page marked), the user's name and
/// role, a sign-out button, and `body`.
pub fn page(user: &SignedIn, title: &str, body: Markup) -> Markup {
    let header = html! {
        a.brand href="/admin/config" { "assetsync" }
        nav aria-label="Main" {
            @for (path, name) in NAV {
                @if *name == title {
                    a href=(path) aria-current="page" { (name) } " "
                } @else {
                    a href=(path) { (name) } " "
                }
            }
        }
        form method="post" action="/admin/logout" {
            span { (user.username) " (" (user.role) ")" }
            (csrf_field(user))
            button type="submit" { "Sign out" }
        }
    };
    shell(title, header, body)
}

/// A page without the navigation (sign-in, refusals before a session exists).
pub fn bare_page(title: &str, body: Markup) -> Markup {
    shell(title, html! { span.brand { "assetsync" } }, body)
}

/// The document every page shares: its head (title, style), then `header` and `body`.
fn shell(title: &str, header: Markup, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · assetsync admin" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header { (header) }
                main { (body) }
            }
        }
    }
}

/// The hidden `csrf` field every form that posts carries (the session's token).
pub fn csrf_field(user: &SignedIn) -> Markup {
    html! { input type="hidden" name="csrf" value=(user.csrf); }
}
