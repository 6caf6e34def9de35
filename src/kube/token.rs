//! The EKS bearer token, made in-process so `ekstack token` works without the
//! AWS CLI or aws-iam-authenticator installed.
//!
//! EKS authenticates a caller by replaying a presigned STS `GetCallerIdentity`
//! URL that the client hands over as a bearer token. Binding the cluster name
//! into the signature through the signed `x-k8s-aws-id` header stops a token made
//! for one cluster from being replayed against another. The format here follows
//! aws-iam-authenticator, which is what the EKS control plane verifies.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context, Result};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings};
use aws_sigv4::sign::v4;
use base64::Engine as _;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// The prefix aws-iam-authenticator uses to recognise a v1 EKS token.
pub const TOKEN_PREFIX: &str = "k8s-aws-v1.";

/// The header that binds a token to one cluster; EKS rejects a token whose
/// signed value is another cluster's name.
const CLUSTER_ID_HEADER: &str = "x-k8s-aws-id";

/// EKS accepts the presigned URL for 15 minutes whatever X-Amz-Expires says, but
/// aws-iam-authenticator signs with 60 s, and staying identical to it avoids
/// surprises if EKS ever starts honouring the value.
const PRESIGN_EXPIRES: Duration = Duration::from_secs(60);

/// How long kubectl may cache the token: a minute under EKS's 15-minute limit,
/// so a cached token never reaches the API server already expired (the same
/// margin `aws eks get-token` uses).
pub const TOKEN_CACHE_LIFETIME: Duration = Duration::from_secs(14 * 60);

/// Presigned STS GetCallerIdentity URL for the cluster, valid 60 s to sign in, as aws-iam-authenticator does.
pub fn presigned_url(creds: &Credentials, region: &str, cluster: &str, now: SystemTime) -> Result<String> {
    // The region becomes part of a host name, so anything beyond the characters
    // real region names use would let a typo (or worse) point the token elsewhere.
    if region.is_empty()
        || !region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        bail!("invalid AWS region {region:?} for the EKS token");
    }
    if cluster.is_empty() {
        bail!("the cluster name for the EKS token must not be empty");
    }

    // The China partition has its own DNS suffix; every other region uses the
    // regional endpoint of the commercial one (EKS accepts regional STS hosts).
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    let base = format!("https://sts.{region}.{suffix}/?Action=GetCallerIdentity&Version=2011-06-15");

    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(PRESIGN_EXPIRES);

    let identity = creds.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(now)
        .settings(settings)
        .build()
        .context("building SigV4 signing parameters for the EKS token")?
        .into();

    let request = SignableRequest::new(
        "GET",
        base.as_str(),
        std::iter::once((CLUSTER_ID_HEADER, cluster)),
        // STS verifies against the hash of the (empty) body it receives, so the
        // signature must cover the empty payload rather than UNSIGNED-PAYLOAD.
        SignableBody::Bytes(&[]),
    )
    .context("building the STS request to sign")?;

    let (instructions, _signature) = sign(request, &params)
        .context("signing the STS GetCallerIdentity request")?
        .into_parts();

    // Signature last, as botocore orders it, so the URL (and so the token) is
    // byte-identical to `aws eks get-token`'s and can be compared directly.
    let mut params: Vec<_> = instructions.params().to_vec();
    params.sort_by_key(|(name, _)| *name == "X-Amz-Signature");
    let mut url = base;
    for (name, value) in &params {
        url.push('&');
        url.push_str(&percent_encode(name));
        url.push('=');
        url.push_str(&percent_encode(value.as_ref()));
    }
    Ok(url)
}

/// "k8s-aws-v1." + base64url-without-padding(presigned_url)
pub fn bearer_token(creds: &Credentials, region: &str, cluster: &str, now: SystemTime) -> Result<String> {
    let url = presigned_url(creds, region, cluster, now)?;
    Ok(format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(url)
    ))
}

/// The ExecCredential JSON (apiVersion client.authentication.k8s.io/v1beta1, kind ExecCredential, status.token, status.expirationTimestamp = now + 14 minutes, RFC 3339 UTC "2026-01-01T00:00:00Z" form).
pub fn exec_credential_json(token: &str, expires: SystemTime) -> String {
    serde_json::json!({
        "kind": "ExecCredential",
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "spec": {},
        "status": {
            "expirationTimestamp": rfc3339_seconds(expires),
            "token": token,
        }
    })
    .to_string()
}

/// client-go parses expirationTimestamp as a Kubernetes `metav1.Time`, which is
/// RFC 3339 at whole seconds; sub-second digits or a `+00:00` offset are avoided
/// to match what `aws eks get-token` prints.
fn rfc3339_seconds(at: SystemTime) -> String {
    let at = time::OffsetDateTime::from(at);
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    at.format(&format).unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

/// Everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - _ . ~`) is
/// percent-encoded, as SigV4 and botocore do: the signature and session token
/// contain `/`, `+` and `=`, which must survive the trip through the URL
/// unchanged for STS to recompute the same signature.
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Percent-encodes a query name or value (upper-case hex digits, as botocore).
fn percent_encode(s: &str) -> Cow<'_, str> {
    utf8_percent_encode(s, NOT_UNRESERVED).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-01-01T00:00:00Z
    const FIXED_SECS: u64 = 1_767_225_600;

    fn fixed_time() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(FIXED_SECS)
    }

    fn creds(session: Option<&str>) -> Credentials {
        Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            session.map(str::to_owned),
            None,
            "test",
        )
    }

    fn percent_decode(s: &str) -> String {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .unwrap()
            .into_owned()
    }

    /// Decodes a token the way the EKS authenticator does, returning the URL's
    /// host and its decoded query parameters.
    fn decode(token: &str) -> (String, Vec<(String, String)>) {
        let b64 = token.strip_prefix(TOKEN_PREFIX).expect("token prefix");
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(b64)
            .expect("base64url without padding");
        let url = String::from_utf8(url).unwrap();
        let rest = url.strip_prefix("https://").expect("https URL");
        let (host, rest) = rest.split_once('/').unwrap();
        let query = rest.strip_prefix('?').expect("query string");
        let params = query
            .split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (percent_decode(k), percent_decode(v))
            })
            .collect();
        (host.to_owned(), params)
    }

    fn param<'a>(params: &'a [(String, String)], name: &str) -> &'a str {
        let found: Vec<_> = params.iter().filter(|(k, _)| k == name).collect();
        assert_eq!(found.len(), 1, "exactly one {name} in {params:?}");
        &found[0].1
    }

    #[test]
    fn token_decodes_to_a_presigned_get_caller_identity_url() {
        let token = bearer_token(&creds(None), "ap-northeast-1", "shop", fixed_time()).unwrap();
        assert!(!token.contains('='), "no padding: {token}");
        assert!(!token.contains('+') && !token.contains('/'), "url-safe alphabet");

        let (host, params) = decode(&token);
        assert_eq!(host, "sts.ap-northeast-1.amazonaws.com");
        assert_eq!(param(&params, "Action"), "GetCallerIdentity");
        assert_eq!(param(&params, "Version"), "2011-06-15");
        assert_eq!(param(&params, "X-Amz-Algorithm"), "AWS4-HMAC-SHA256");
        assert_eq!(
            param(&params, "X-Amz-Credential"),
            "AKIDEXAMPLE/20260101/ap-northeast-1/sts/aws4_request"
        );
        assert_eq!(param(&params, "X-Amz-Date"), "20260101T000000Z");
        assert_eq!(param(&params, "X-Amz-Expires"), "60");
        assert!(param(&params, "X-Amz-SignedHeaders").contains("host;x-k8s-aws-id"));
        let sig = param(&params, "X-Amz-Signature");
        assert_eq!(sig.len(), 64);
        assert!(sig.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert!(params.iter().all(|(k, _)| k != "X-Amz-Security-Token"));
    }

    #[test]
    fn fixed_inputs_give_a_deterministic_token() {
        let a = bearer_token(&creds(None), "us-east-1", "shop", fixed_time()).unwrap();
        let b = bearer_token(&creds(None), "us-east-1", "shop", fixed_time()).unwrap();
        assert_eq!(a, b);
        let other_cluster = bearer_token(&creds(None), "us-east-1", "other", fixed_time()).unwrap();
        assert_ne!(a, other_cluster, "the cluster name must be signed");
        let later = fixed_time() + Duration::from_secs(1);
        assert_ne!(a, bearer_token(&creds(None), "us-east-1", "shop", later).unwrap());
    }

    /// Known answers made independently by the AWS CLI's own token generator
    /// (the reference EKS accepts) for the same credentials, time and cluster,
    /// so any drift in how we call aws-sigv4 shows up here rather than as a 401.
    #[test]
    fn url_matches_aws_eks_get_token() {
        let url = presigned_url(&creds(None), "us-east-1", "shop", fixed_time()).unwrap();
        assert_eq!(url, AWSCLI_URL_NO_SESSION);
        let url = presigned_url(&creds(Some(SESSION)), "us-east-1", "shop", fixed_time()).unwrap();
        assert_eq!(url, AWSCLI_URL_SESSION);
    }

    const SESSION: &str = "FwoGZXIvYXdzEXAMPLE/session+token==";
    // From awscli's TokenGenerator (`aws eks get-token`) with botocore 1.43 and
    // its clock pinned to FIXED_SECS, credentials as in `creds`, cluster "shop".
    const AWSCLI_URL_NO_SESSION: &str = "https://sts.us-east-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20260101%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id&X-Amz-Signature=efd6543620830e261c48c276df0f17bcd8e7d99dba9753c6867e3a954b445f8c";
    const AWSCLI_URL_SESSION: &str = "https://sts.us-east-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20260101%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id&X-Amz-Security-Token=FwoGZXIvYXdzEXAMPLE%2Fsession%2Btoken%3D%3D&X-Amz-Signature=3bb28f4744ebbb90d34e56d86cefdde0cd55b3a54338361c5a7a9e0113f04750";

    #[test]
    fn session_token_is_carried_in_the_url() {
        let token = bearer_token(&creds(Some(SESSION)), "eu-west-1", "shop", fixed_time()).unwrap();
        let (host, params) = decode(&token);
        assert_eq!(host, "sts.eu-west-1.amazonaws.com");
        assert_eq!(param(&params, "X-Amz-Security-Token"), SESSION);
    }

    #[test]
    fn china_regions_use_their_own_suffix() {
        let url = presigned_url(&creds(None), "cn-north-1", "shop", fixed_time()).unwrap();
        assert!(url.starts_with("https://sts.cn-north-1.amazonaws.com.cn/?"), "{url}");
    }

    #[test]
    fn bad_region_or_cluster_is_an_error() {
        assert!(presigned_url(&creds(None), "", "shop", fixed_time()).is_err());
        assert!(presigned_url(&creds(None), "evil.com/x", "shop", fixed_time()).is_err());
        assert!(presigned_url(&creds(None), "us-east-1", "", fixed_time()).is_err());
    }

    #[test]
    fn exec_credential_has_the_fields_kubectl_reads() {
        let expires = fixed_time() + TOKEN_CACHE_LIFETIME;
        let json = exec_credential_json("k8s-aws-v1.abc", expires);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["apiVersion"], "client.authentication.k8s.io/v1beta1");
        assert_eq!(v["kind"], "ExecCredential");
        assert_eq!(v["status"]["token"], "k8s-aws-v1.abc");
        assert_eq!(v["status"]["expirationTimestamp"], "2026-01-01T00:14:00Z");
    }

    #[test]
    fn expiration_drops_sub_seconds() {
        let at = fixed_time() + Duration::from_millis(1_999);
        assert_eq!(rfc3339_seconds(at), "2026-01-01T00:00:01Z");
    }

    #[test]
    fn percent_encoding_keeps_only_unreserved() {
        assert_eq!(percent_encode("a-b_c.d~e"), "a-b_c.d~e");
        assert!(matches!(percent_encode("AKID/20260101"), Cow::Owned(_)));
        assert!(matches!(percent_encode("plain"), Cow::Borrowed("plain")));
        assert_eq!(percent_encode("a/b+c=d"), "a%2Fb%2Bc%3Dd");
        assert_eq!(percent_encode("host;x-k8s-aws-id"), "host%3Bx-k8s-aws-id");
        assert_eq!(
            percent_encode(" !*'()%:@&$,?#[]"),
            "%20%21%2A%27%28%29%25%3A%40%26%24%2C%3F%23%5B%5D"
        );
        assert_eq!(percent_encode("é"), "%C3%A9");
    }
}
