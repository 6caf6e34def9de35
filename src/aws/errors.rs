//! Failed AWS calls as one readable line, and the error codes callers branch on.
//!
//! The SDK's own `Display` of an error is only "service error", and its
//! `DisplayErrorContext` appends a `Debug` dump of the whole response (headers
//! and all). Neither belongs in a terminal. Every failure here becomes one line
//! that names the operation, the resource when the caller gives it, and then
//! what happened:
//!
//! - AWS answered with an error: its code, its message and the HTTP status;
//! - something else answered (an HTML page, a body with neither an AWS error
//!   code nor an AWS request id): that it did not come from the service;
//! - nothing answered: the innermost cause ("Connection refused"), as the
//!   layers above it only repeat where.

use std::error::Error as StdError;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Longest AWS message or low-level cause printed; IAM policy errors and
/// foreign servers can send pages of text.
const MAX_DETAIL_CHARS: usize = 300;

/// Headers in which AWS services return the id of a request. An answer that
/// carries one came from AWS (or an emulator of it) even if its body is unreadable.
const REQUEST_ID_HEADERS: &[&str] = &["x-amzn-requestid", "x-amz-request-id", "x-amzn-request-id"];

/// The AWS error code of a failed call, if the service sent one.
pub fn code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    match err {
        SdkError::ServiceError(e) => e.err().code(),
        _ => None,
    }
}

/// Whether the call failed because the resource does not exist.
pub fn is_not_found<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    code(err).is_some_and(is_not_found_code)
}

fn is_not_found_code(code: &str) -> bool {
    code.contains("NotFound") || code == "NoSuchEntity" || code == "ResourceNotFoundException"
}

/// What went wrong in a failed call, for people: the part of the line after
/// "failed: ". Use [`AwsResultExt`] to get the whole line.
pub fn describe<E>(err: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    detail(err, "AWS")
}

/// A failed AWS call: the operation, the resource, AWS's error code and the
/// HTTP status, displayed as one line.
#[derive(Debug, Clone)]
pub struct AwsError {
    /// `service:Operation`, e.g. `eks:CreateCluster`.
    pub operation: String,
    /// What the call was about (a name or id), when the caller said.
    pub resource: Option<String>,
    /// AWS's error code, when the service sent one.
    pub code: Option<String>,
    /// What happened, e.g. `ResourceInUseException: Cluster already exists (HTTP 409)`.
    pub message: String,
    /// The HTTP status of the answer, when there was one.
    pub status: Option<u16>,
}

impl std::fmt::Display for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.resource {
            Some(resource) => write!(f, "{} for {resource} failed: {}", self.operation, self.message),
            None => write!(f, "{} failed: {}", self.operation, self.message),
        }
    }
}

impl StdError for AwsError {}

impl AwsError {
    /// Describes a failed SDK call made as `operation` (`service:Operation`).
    pub fn from_sdk<E>(operation: &str, resource: Option<String>, err: &SdkError<E, HttpResponse>) -> AwsError
    where
        E: ProvideErrorMetadata + StdError + 'static,
    {
        AwsError {
            operation: operation.to_string(),
            resource,
            code: code(err).map(str::to_string),
            message: detail(err, service_name(operation)),
            status: err.raw_response().map(|r| r.status().as_u16()),
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.code.as_deref().is_some_and(is_not_found_code)
    }
}

/// Whether an error anywhere in the chain is this AWS error code.
pub fn has_code(err: &anyhow::Error, code: &str) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<AwsError>()
            .is_some_and(|a| a.code.as_deref() == Some(code))
    })
}

/// The AWS error anywhere in the chain, if there is one.
pub fn aws_error(err: &anyhow::Error) -> Option<&AwsError> {
    err.chain().find_map(|e| e.downcast_ref::<AwsError>())
}

/// Whether an error anywhere in the chain says "not found".
pub fn is_not_found_error(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|e| e.downcast_ref::<AwsError>().is_some_and(|a| a.is_not_found()))
}

/// Converts SDK results into errors that name the operation and AWS's code.
pub trait AwsResultExt<T> {
    /// `result.aws("eks:CreateCluster")`
    fn aws(self, operation: &str) -> anyhow::Result<T>;
    /// `result.aws_on("ec2:DeleteSubnet", subnet_id)`: also names the resource.
    fn aws_on(self, operation: &str, resource: impl std::fmt::Display) -> anyhow::Result<T>;
}

impl<T, E> AwsResultExt<T> for Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    fn aws(self, operation: &str) -> anyhow::Result<T> {
        self.map_err(|e| anyhow::Error::new(AwsError::from_sdk(operation, None, &e)))
    }

    fn aws_on(self, operation: &str, resource: impl std::fmt::Display) -> anyhow::Result<T> {
        self.map_err(|e| anyhow::Error::new(AwsError::from_sdk(operation, Some(resource.to_string()), &e)))
    }
}

/// The service's name as people know it, from the `service:` prefix.
fn service_name(operation: &str) -> &str {
    match operation.split_once(':').map(|(s, _)| s) {
        Some("ec2") => "EC2",
        Some("eks") => "EKS",
        Some("rds") => "RDS",
        Some("iam") => "IAM",
        Some("sts") => "STS",
        Some("elb" | "elbv2" | "elasticloadbalancing" | "elasticloadbalancingv2") => "Elastic Load Balancing",
        Some("secretsmanager") => "Secrets Manager",
        Some("ecr") => "ECR",
        Some("pricing") => "Pricing",
        Some(other) if !other.is_empty() => other,
        _ => "AWS",
    }
}

fn detail<E>(err: &SdkError<E, HttpResponse>, service: &str) -> String
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    match err {
        SdkError::ServiceError(e) => {
            let raw = e.raw();
            let status = raw.status().as_u16();
            let (code, message) = (e.err().code(), e.err().message());
            if !from_the_service(raw, code) {
                return foreign(raw, service);
            }
            match (code, message) {
                (Some(c), Some(m)) if !m.trim().is_empty() => format!("{c}: {} (HTTP {status})", one_line(m)),
                (Some(c), _) => format!("{c} (HTTP {status})"),
                (None, Some(m)) if !m.trim().is_empty() => format!("{} (HTTP {status})", one_line(m)),
                (None, _) => format!(
                    "HTTP {status} from the {service} API without an error code{}",
                    request_id(raw)
                ),
            }
        }
        SdkError::ResponseError(e) => {
            let raw = e.raw();
            if !from_the_service(raw, None) {
                return foreign(raw, service);
            }
            format!(
                "HTTP {} from the {service} API that could not be read ({}){}",
                raw.status().as_u16(),
                innermost(err),
                request_id(raw)
            )
        }
        SdkError::DispatchFailure(d) if d.is_timeout() => {
            format!("timed out connecting to the {service} API: {}", innermost(err))
        }
        SdkError::DispatchFailure(_) => format!("could not reach the {service} API: {}", innermost(err)),
        SdkError::TimeoutError(_) => format!("timed out waiting for the {service} API: {}", innermost(err)),
        SdkError::ConstructionFailure(_) => format!("could not build the request: {}", innermost(err)),
        // SdkError is non-exhaustive; a future variant still gets one line.
        _ => innermost(err),
    }
}

/// Whether an answer came from the AWS service rather than from some other
/// web server (a wrong `--endpoint-url`, a proxy's error page, an emulator
/// that does not implement the API): an HTML page never does, and an AWS
/// answer carries either an error code or a request id.
fn from_the_service(raw: &HttpResponse, code: Option<&str>) -> bool {
    let html_type = raw
        .headers()
        .get("content-type")
        .is_some_and(|t| t.to_ascii_lowercase().contains("html"));
    let body = raw.body().bytes().unwrap_or_default();
    let start: Vec<u8> = body
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take(16)
        .map(u8::to_ascii_lowercase)
        .collect();
    let html_body = start.starts_with(b"<!doctype html") || start.starts_with(b"<html");
    if html_type || html_body {
        return false;
    }
    code.is_some() || REQUEST_ID_HEADERS.iter().any(|h| raw.headers().get(*h).is_some())
}

fn foreign(raw: &HttpResponse, service: &str) -> String {
    let content_type = raw
        .headers()
        .get("content-type")
        .map(|t| t.split(';').next().unwrap_or_default().trim())
        .filter(|t| !t.is_empty())
        .map(|t| truncate(&printable(t), 60))
        .unwrap_or_else(|| "no content type".into());
    format!(
        "the answer did not come from the {service} API (HTTP {}, {content_type}); check --endpoint-url",
        raw.status().as_u16()
    )
}

fn request_id(raw: &HttpResponse) -> String {
    REQUEST_ID_HEADERS
        .iter()
        .find_map(|h| raw.headers().get(*h))
        .map(|id| format!(" (request id {})", truncate(&printable(id), 80)))
        .unwrap_or_default()
}

/// The innermost cause says what happened ("Connection refused (os error
/// 111)"); the layers above it only repeat where.
fn innermost(err: &(dyn StdError + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    one_line(&cause.to_string())
}

/// Whitespace (newlines included) collapsed to single spaces, control
/// characters dropped, and cut to a readable length.
fn one_line(s: &str) -> String {
    truncate(&s.split_whitespace().collect::<Vec<_>>().join(" "), MAX_DETAIL_CHARS)
}

fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

fn truncate(s: &str, max: usize) -> String {
    let s = printable(s);
    if s.chars().count() <= max {
        return s;
    }
    let mut cut: String = s.chars().take(max).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    //! Each case is a real SDK client (EKS, restJson; EC2, its own XML
    //! protocol) fed a raw HTTP answer, so what is checked is what a user sees.

    use std::time::Duration;

    use aws_sdk_eks::config::retry::RetryConfig;
    use aws_sdk_eks::config::timeout::TimeoutConfig;
    use aws_sdk_eks::config::{BehaviorVersion, Credentials, Region};
    use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
    use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    use super::*;

    fn answer(status: u16, headers: &[(&'static str, &'static str)], body: &'static str) -> HttpResponse {
        let mut r = HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body));
        for (name, value) in headers {
            r.headers_mut().insert(*name, *value);
        }
        r
    }

    fn replay(response: HttpResponse) -> StaticReplayClient {
        StaticReplayClient::new(vec![ReplayEvent::new(HttpRequest::empty(), response)])
    }

    fn eks_config(endpoint: &str) -> aws_sdk_eks::config::Builder {
        aws_sdk_eks::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("ap-northeast-1"))
            .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
            .endpoint_url(endpoint)
            // One attempt: a retried 500 would ask the replay client twice.
            .retry_config(RetryConfig::disabled())
    }

    fn eks(response: HttpResponse) -> aws_sdk_eks::Client {
        aws_sdk_eks::Client::from_conf(eks_config("https://eks.test").http_client(replay(response)).build())
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    /// The error line for eks:UpdateClusterVersion on `answer`.
    fn update_version_error(response: HttpResponse, resource: Option<&str>) -> (String, AwsError) {
        let client = eks(response);
        let result = rt().block_on(client.update_cluster_version().name("shop").version("1.34").send());
        let err = match resource {
            Some(r) => result.aws_on("eks:UpdateClusterVersion", r),
            None => result.aws("eks:UpdateClusterVersion"),
        }
        .unwrap_err();
        let aws = err.downcast_ref::<AwsError>().expect("an AwsError").clone();
        (format!("{err:#}"), aws)
    }

    fn assert_one_clean_line(line: &str) {
        assert!(!line.contains('\n'), "one line: {line:?}");
        for dump in ["ServiceError", "Unhandled", "Response {", "headers", "SdkBody", "raw:"] {
            assert!(!line.contains(dump), "no Debug dump ({dump}): {line}");
        }
    }

    #[test]
    fn aws_error_names_operation_resource_code_message_and_status() {
        let (line, err) = update_version_error(
            answer(
                409,
                &[
                    ("content-type", "application/json"),
                    ("x-amzn-requestid", "0a1b2c"),
                    ("x-amzn-errortype", "ResourceInUseException"),
                ],
                r#"{"message":"Update already in progress\n for cluster shop"}"#,
            ),
            Some("cluster shop"),
        );
        assert_eq!(
            line,
            "eks:UpdateClusterVersion for cluster shop failed: ResourceInUseException: \
             Update already in progress for cluster shop (HTTP 409)"
        );
        assert_eq!(err.code.as_deref(), Some("ResourceInUseException"));
        assert_eq!(err.status, Some(409));
        assert_eq!(err.resource.as_deref(), Some("cluster shop"));
        assert_one_clean_line(&line);
    }

    #[test]
    fn not_found_is_still_recognised() {
        let (line, err) = update_version_error(
            answer(
                404,
                &[
                    ("content-type", "application/json"),
                    ("x-amzn-requestid", "0a1b2c"),
                    ("x-amzn-errortype", "ResourceNotFoundException"),
                ],
                r#"{"message":"No cluster found for name: shop."}"#,
            ),
            None,
        );
        assert_eq!(
            line,
            "eks:UpdateClusterVersion failed: ResourceNotFoundException: No cluster found for name: shop. (HTTP 404)"
        );
        assert!(err.is_not_found());
        let any = anyhow::Error::new(err).context("upgrading the cluster");
        assert!(is_not_found_error(&any));
        assert!(has_code(&any, "ResourceNotFoundException"));
        assert!(!has_code(&any, "ResourceInUseException"));
    }

    #[test]
    fn unparseable_500_from_aws_says_so_without_a_dump() {
        let (line, err) = update_version_error(
            answer(
                500,
                &[("content-type", "application/json"), ("x-amzn-requestid", "req-42")],
                "{\"oops\": tru",
            ),
            None,
        );
        assert_eq!(
            line,
            "eks:UpdateClusterVersion failed: HTTP 500 from the EKS API without an error code (request id req-42)"
        );
        assert_eq!(err.code, None);
        assert_eq!(err.status, Some(500));
        assert_one_clean_line(&line);
    }

    #[test]
    fn unparseable_500_from_elsewhere_is_not_blamed_on_aws() {
        let (line, _) = update_version_error(
            answer(500, &[("content-type", "text/plain")], "Internal Server Error"),
            None,
        );
        assert_eq!(
            line,
            "eks:UpdateClusterVersion failed: the answer did not come from the EKS API \
             (HTTP 500, text/plain); check --endpoint-url"
        );
    }

    /// What moto answers for an EKS API it does not implement.
    #[test]
    fn html_404_did_not_come_from_the_service() {
        let (line, err) = update_version_error(
            answer(
                404,
                &[
                    ("content-type", "text/html; charset=utf-8"),
                    ("server", "Werkzeug/3.1.9"),
                ],
                "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n",
            ),
            Some("shop"),
        );
        assert_eq!(
            line,
            "eks:UpdateClusterVersion for shop failed: the answer did not come from the EKS API \
             (HTTP 404, text/html); check --endpoint-url"
        );
        assert_eq!(err.status, Some(404));
        assert!(!err.is_not_found(), "an HTML 404 says nothing about the cluster");
        assert_one_clean_line(&line);
    }

    /// An HTML page is foreign even when a front end adds a request id to it.
    #[test]
    fn html_body_without_content_type_is_foreign() {
        let (line, _) = update_version_error(
            answer(
                502,
                &[("x-amzn-requestid", "x")],
                "  <HTML><body>Bad gateway</body></HTML>",
            ),
            None,
        );
        assert!(
            line.ends_with(
                "the answer did not come from the EKS API (HTTP 502, no content type); check --endpoint-url"
            ),
            "{line}"
        );
    }

    /// A JSON web server that is not AWS: no error code, no request id.
    #[test]
    fn non_aws_json_is_foreign() {
        let (line, _) = update_version_error(
            answer(404, &[("content-type", "application/json")], r#"{"error":"no route"}"#),
            None,
        );
        assert!(
            line.contains("did not come from the EKS API (HTTP 404, application/json)"),
            "{line}"
        );
    }

    /// A 200 whose body is a web page (an `--endpoint-url` at some web site).
    #[test]
    fn html_200_is_foreign() {
        let client = eks(answer(200, &[("content-type", "text/html")], "<html>welcome</html>"));
        let err = rt()
            .block_on(client.describe_cluster().name("shop").send())
            .aws("eks:DescribeCluster")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "eks:DescribeCluster failed: the answer did not come from the EKS API (HTTP 200, text/html); \
             check --endpoint-url"
        );
    }

    /// EC2 speaks XML; its errors carry the code in the body.
    #[test]
    fn ec2_xml_error() {
        let body =
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>DependencyViolation</Code>\
                    <Message>The vpc 'vpc-1' has dependencies and cannot be deleted.</Message></Error></Errors>\
                    <RequestID>r-1</RequestID></Response>";
        let conf = aws_sdk_ec2::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("ap-northeast-1"))
            .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
            .endpoint_url("https://ec2.test")
            .retry_config(RetryConfig::disabled())
            .http_client(replay(answer(400, &[("content-type", "text/xml;charset=UTF-8")], body)))
            .build();
        let client = aws_sdk_ec2::Client::from_conf(conf);
        let err = rt()
            .block_on(client.delete_vpc().vpc_id("vpc-1").send())
            .aws_on("ec2:DeleteVpc", "vpc-1")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "ec2:DeleteVpc for vpc-1 failed: DependencyViolation: The vpc 'vpc-1' has dependencies and cannot be \
             deleted. (HTTP 400)"
        );
        assert!(has_code(&err, "DependencyViolation"));
    }

    #[test]
    fn connection_refused_keeps_the_innermost_cause() {
        // A port that was free a moment ago: nothing listens there now.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let client = aws_sdk_eks::Client::from_conf(eks_config(&format!("http://127.0.0.1:{port}")).build());
        let err = rt()
            .block_on(client.describe_cluster().name("shop").send())
            .aws_on("eks:DescribeCluster", "shop")
            .unwrap_err();
        let line = err.to_string();
        assert!(
            line.starts_with("eks:DescribeCluster for shop failed: could not reach the EKS API: "),
            "{line}"
        );
        assert!(line.to_lowercase().contains("connection refused"), "{line}");
        assert_one_clean_line(&line);
        let aws = err.downcast_ref::<AwsError>().unwrap();
        assert_eq!((aws.code.as_deref(), aws.status), (None, None));
    }

    #[test]
    fn timeout_keeps_the_innermost_cause() {
        // Accepts the connection and never answers.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let conf = eks_config(&format!("http://127.0.0.1:{port}"))
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(Duration::from_millis(300))
                    .build(),
            )
            .build();
        let client = aws_sdk_eks::Client::from_conf(conf);
        let err = rt()
            .block_on(client.describe_cluster().name("shop").send())
            .aws("eks:DescribeCluster")
            .unwrap_err();
        drop(listener);
        let line = err.to_string();
        assert!(
            line.starts_with("eks:DescribeCluster failed: timed out waiting for the EKS API: "),
            "{line}"
        );
        assert!(line.contains("300ms"), "{line}");
        assert_one_clean_line(&line);
    }

    #[test]
    fn long_messages_are_cut() {
        assert_eq!(one_line("a\n  b\tc"), "a b c");
        let long = "x".repeat(1000);
        let cut = one_line(&long);
        assert_eq!(cut.chars().count(), MAX_DETAIL_CHARS + 1);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn service_names() {
        assert_eq!(service_name("eks:CreateCluster"), "EKS");
        assert_eq!(service_name("elbv2:DescribeLoadBalancers"), "Elastic Load Balancing");
        assert_eq!(service_name("CreateCluster"), "AWS");
    }
}
