//! The referents' page as an Element widget (`/relais/referent/widget`): added to a room with
//! `/addwidget https://…/relais/referent/widget?widgetId=$matrix_widget_id`, it asks Element for
//! an OpenID token of the member's session through the Matrix widget API (`get_openid`), posts
//! it to `/relais/connexion/openid` and shows the dashboard — no password typed into Relais.
//! Without JavaScript, or outside Element, it links to the password sign-in.

use axum::response::{IntoResponse, Response};
use maud::{PreEscaped, html};

use crate::page::page;

/// The widget side of the Matrix widget API, just what signing in needs: answer the client's
/// `capabilities` request, ask for OpenID credentials, accept them now or once the member has
/// allowed it, then submit them. Messages are taken only from the parent window.
const SCRIPT: &str = r#"
(function () {
  var params = new URLSearchParams(location.search);
  var widgetId = params.get("widgetId");
  var status = document.getElementById("etat");
  if (!widgetId || window.parent === window) { return; }
  status.textContent = "Connexion avec votre session Element…";
  function reply(request, response) {
    window.parent.postMessage(Object.assign({}, request, { response: response }), "*");
  }
  function submit(creds) {
    if (!creds || creds.state !== "allowed" || !creds.access_token) {
      status.textContent = "Element n'a pas confirmé votre identité : utilisez la connexion par mot de passe.";
      return;
    }
    document.getElementById("jeton").value = creds.access_token;
    document.getElementById("serveur").value = creds.matrix_server_name;
    document.getElementById("openid").submit();
  }
  var asked = "relais-openid-" + Math.random().toString(36).slice(2);
  window.addEventListener("message", function (event) {
    var m = event.data;
    if (event.source !== window.parent || !m || m.widgetId !== widgetId) { return; }
    if (m.api === "toWidget" && m.action === "capabilities") { reply(m, { capabilities: [] }); return; }
    if (m.api === "toWidget" && m.action === "openid_credentials") { reply(m, {}); submit(m.data); return; }
    if (m.api === "toWidget") { reply(m, {}); return; }
    if (m.api === "fromWidget" && m.requestId === asked && m.response && m.response.state !== "request") {
      submit(m.response);
    }
  });
  window.parent.postMessage({ api: "fromWidget", widgetId: widgetId, requestId: "relais-loaded",
    action: "content_loaded", data: {} }, "*");
  window.parent.postMessage({ api: "fromWidget", widgetId: widgetId, requestId: asked,
    action: "get_openid", data: {} }, "*");
})();
"#;

pub async fn show() -> Response {
    let body = html! {
        p #etat role="status" {
            "Ouvrez cette page comme widget dans Element pour vous connecter avec votre session, ou "
            a href="/relais/referent" { "connectez-vous avec votre mot de passe" } "."
        }
        form #openid method="post" action="/relais/connexion/openid" {
            input type="hidden" #jeton name="access_token";
            input type="hidden" #serveur name="matrix_server_name";
        }
        script { (PreEscaped(SCRIPT)) }
    };
    page("Espace référents", body).into_response()
}
