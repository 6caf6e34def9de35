//! The wire formats the rules read and write: query-protocol forms (EC2,
//! IAM, RDS), their XML answers and errors, EKS's REST-JSON, and a client
//! for the rules' own calls to moto.

use std::collections::HashMap;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderMap, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Request, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::Req;

/// An answer the rules give instead of moto.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: &'static str,
    /// For REST-JSON errors: the `x-amzn-ErrorType` header.
    pub error_type: Option<String>,
    pub body: Bytes,
}

impl Reply {
    pub fn json(status: StatusCode, value: &serde_json::Value) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            error_type: None,
            body: Bytes::from(value.to_string()),
        }
    }

    /// An EKS (REST-JSON) error: the type in `x-amzn-ErrorType`, the
    /// message and any extra members in the body (botocore's EKS model).
    pub fn eks_error(status: u16, kind: &str, message: &str, extra: serde_json::Value) -> Reply {
        let mut body = serde_json::json!({ "message": message });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        Reply {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            content_type: "application/json",
            error_type: Some(kind.to_string()),
            body: Bytes::from(body.to_string()),
        }
    }

    /// An EC2 error: `<Response><Errors><Error>…` with HTTP 400, as AWS
    /// sends it (the body quoted in AWS's EC2 API error documentation).
    pub fn ec2_error(code: &str, message: &str) -> Reply {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{}</Message></Error></Errors><RequestID>aws-rules-{}</RequestID></Response>",
            escape(message),
            request_id()
        );
        Reply {
            status: StatusCode::BAD_REQUEST,
            content_type: "text/xml",
            error_type: None,
            body: Bytes::from(body),
        }
    }

    /// An error of the other query protocols (RDS, IAM):
    /// `<ErrorResponse><Error><Type>Sender</Type>…`.
    pub fn query_error(status: u16, code: &str, message: &str) -> Reply {
        let body = format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>aws-rules-{}</RequestId></ErrorResponse>",
            escape(message),
            request_id()
        );
        Reply {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            content_type: "text/xml",
            error_type: None,
            body: Bytes::from(body),
        }
    }

    /// An answer of the awsJson 1.1 protocol (Service Quotas); an error's
    /// body carries its `__type`.
    pub fn aws_json(status: StatusCode, value: &serde_json::Value) -> Reply {
        Reply {
            status,
            content_type: "application/x-amz-json-1.1",
            error_type: None,
            body: Bytes::from(value.to_string()),
        }
    }

    /// An XML answer with moto's body, rewritten.
    pub fn xml(body: Bytes) -> Reply {
        Reply {
            status: StatusCode::OK,
            content_type: "text/xml",
            error_type: None,
            body,
        }
    }
}

pub fn request_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    N.fetch_add(1, Ordering::Relaxed)
}

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Signing service name from the SigV4 `Authorization` header's credential scope.
pub fn signing_service(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get(hyper::header::AUTHORIZATION)?.to_str().ok()?;
    let cred = auth.split("Credential=").nth(1)?;
    let scope = cred.split([',', ' ']).next()?;
    scope.split('/').nth(3).map(str::to_string)
}

/// The region a request is signed for.
pub fn signing_region(headers: &HeaderMap) -> String {
    headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(2))
        .unwrap_or("us-east-1")
        .to_string()
}

/// Percent-decodes a form or query value (`+` is a space).
pub fn decode(v: &str) -> String {
    let v = v.replace('+', " ");
    percent_encoding::percent_decode_str(&v)
        .decode_utf8_lossy()
        .into_owned()
}

/// The fields of an `application/x-www-form-urlencoded` body.
pub fn form(body: &[u8]) -> HashMap<String, String> {
    let Ok(s) = std::str::from_utf8(body) else {
        return HashMap::new();
    };
    s.split('&')
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((decode(k), decode(v)))
        })
        .collect()
}

/// A form body from fields.
pub fn form_body(fields: &[(&str, &str)]) -> Bytes {
    let enc = |s: &str| percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
    Bytes::from(
        fields
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join("&"),
    )
}

/// The text of the first `<tag>…</tag>` in `xml`.
pub fn tag<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&close)? + start;
    Some(&xml[start..end])
}

/// Rewrites each `<block>…</block>` of `xml` with `f` (given the block's
/// inner text, returning the new inner text).
pub fn map_blocks(xml: &str, block: &str, mut f: impl FnMut(&str) -> String) -> String {
    let open = format!("<{block}>");
    let close = format!("</{block}>");
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let start = i + open.len();
        let Some(len) = rest[start..].find(&close) else { break };
        out.push_str(&rest[..start]);
        out.push_str(&f(&rest[start..start + len]));
        out.push_str(&close);
        rest = &rest[start + len + close.len()..];
    }
    out.push_str(rest);
    out
}

/// Replaces the text of the first `<tag>` in `xml`.
pub fn set_tag(xml: &str, name: &str, value: &str) -> String {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let Some(i) = xml.find(&open) else {
        return xml.to_string();
    };
    let start = i + open.len();
    let Some(len) = xml[start..].find(&close) else {
        return xml.to_string();
    };
    format!("{}{value}{}", &xml[..start], &xml[start + len..])
}

/// The rules' own calls to moto: the same signature headers as the
/// request they serve (moto does not check signatures).
pub struct Upstream {
    authority: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Upstream {
    pub fn new(upstream: &str) -> Upstream {
        let uri: Uri = upstream
            .parse()
            .unwrap_or_else(|_| Uri::from_static("http://127.0.0.1:5055"));
        Upstream {
            authority: uri.authority().map(|a| a.to_string()).unwrap_or_default(),
            client: Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(0)
                .build_http(),
        }
    }

    /// Sends `req` (method, path, query, headers, body) to moto.
    pub async fn send(&self, req: &Req) -> Result<(StatusCode, Bytes), String> {
        let pq = if req.query.is_empty() {
            req.path.clone()
        } else {
            format!("{}?{}", req.path, req.query)
        };
        let uri = format!("http://{}{pq}", self.authority);
        let mut r = Request::new(Full::new(req.body.clone()));
        *r.method_mut() = req.method.clone();
        *r.uri_mut() = uri.parse().map_err(|e| format!("{e}"))?;
        let mut headers = req.headers.clone();
        headers.remove(hyper::header::EXPECT);
        headers.remove(hyper::header::TRANSFER_ENCODING);
        headers.insert(CONTENT_LENGTH, HeaderValue::from(req.body.len()));
        if !req.body.is_empty() && !headers.contains_key(CONTENT_TYPE) {
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            );
        }
        *r.headers_mut() = headers;
        let resp = self.client.request(r).await.map_err(|e| e.to_string())?;
        let status = resp.status();
        let body = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok((status, body))
    }
}
