//! Account quotas as AWS enforces them, which moto does not: VPCs per
//! Region, NAT gateways per AZ and Elastic IPs ("Amazon VPC quotas",
//! https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html;
//! "Elastic IP address quotas",
//! https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/elastic-ip-addresses-eip.html#using-instance-addressing-limit).
//!
//! The applied values are served from the settings: Service Quotas
//! GetServiceQuota and GetAWSDefaultServiceQuota (service code `vpc`, moto
//! answers only the default), and EC2 DescribeAccountAttributes
//! `vpc-max-elastic-ips` (moto always says 5). Creates past a quota are
//! refused with EC2's codes: VpcLimitExceeded, NatGatewayLimitExceeded,
//! AddressLimitExceeded.

use hyper::StatusCode;
use serde_json::json;

use super::wire::{self, Reply};
use super::{Before, Req, Rules};

/// The applied quotas of the emulated account.
#[derive(Debug, Clone)]
pub struct Quotas {
    pub vpcs_per_region: u32,
    pub nat_gateways_per_az: u32,
    pub elastic_ips: u32,
}

/// AWS's defaults for a new account.
pub const DEFAULTS: Quotas = Quotas {
    vpcs_per_region: 5,
    nat_gateways_per_az: 5,
    elastic_ips: 5,
};

impl Default for Quotas {
    /// The suite's one moto holds every test's VPCs in a handful of
    /// regions, as an account with raised quotas would; a test that wants
    /// AWS's defaults starts a proxy of its own with [`DEFAULTS`].
    fn default() -> Self {
        Quotas {
            vpcs_per_region: 1000,
            nat_gateways_per_az: 1000,
            elastic_ips: 1000,
        }
    }
}

pub const VPCS_PER_REGION: &str = "L-F678F1CE";
pub const NAT_GATEWAYS_PER_AZ: &str = "L-FE5A380F";

/// Answers Service Quotas (awsJson 1.1, `X-Amz-Target:
/// ServiceQuotasV20190624.<Operation>`).
pub fn service_quotas(rules: &Rules, req: &Req) -> Before {
    let target = req
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let operation = target.rsplit('.').next().unwrap_or_default();
    let body = req.json();
    let (service, code) = (
        body["ServiceCode"].as_str().unwrap_or_default(),
        body["QuotaCode"].as_str().unwrap_or_default(),
    );
    let quotas = match operation {
        "GetServiceQuota" => &rules.settings.quotas,
        "GetAWSDefaultServiceQuota" => &DEFAULTS,
        _ => return Before::Forward(None),
    };
    let (name, value) = match (service, code) {
        ("vpc", VPCS_PER_REGION) => ("VPCs per Region", quotas.vpcs_per_region),
        ("vpc", NAT_GATEWAYS_PER_AZ) => ("NAT gateways per Availability Zone", quotas.nat_gateways_per_az),
        _ => {
            return Before::Answer(Reply::aws_json(
                StatusCode::BAD_REQUEST,
                &json!({"__type": "NoSuchResourceException", "message": "The request failed because the specified service does not exist."}),
            ))
        }
    };
    Before::Answer(Reply::aws_json(
        StatusCode::OK,
        &json!({"Quota": {
            "ServiceCode": service,
            "ServiceName": "Amazon Virtual Private Cloud (Amazon VPC)",
            "QuotaArn": format!("arn:aws:servicequotas:{}:123456789012:{service}/{code}", region(req)),
            "QuotaCode": code,
            "QuotaName": name,
            "Value": f64::from(value),
            "Unit": "None",
            "Adjustable": true,
            "GlobalQuota": false,
        }}),
    ))
}

/// The region of a signed request (its credential scope).
fn region(req: &Req) -> String {
    super::wire::signing_region(&req.headers)
}

/// EC2's side: the account attribute, and creates past a quota refused.
pub async fn ec2(rules: &Rules, req: &Req) -> Option<Before> {
    let quotas = &rules.settings.quotas;
    match req.action() {
        "DescribeAccountAttributes" => Some(Before::Answer(account_attributes(quotas))),
        "CreateVpc" => {
            let vpcs = count(rules, req, &[("Action", "DescribeVpcs")], "vpcId").await?;
            (vpcs >= quotas.vpcs_per_region as usize).then(|| {
                Before::Answer(Reply::ec2_error(
                    "VpcLimitExceeded",
                    "The maximum number of VPCs has been reached.",
                ))
            })
        }
        "AllocateAddress" => {
            let addresses = count(rules, req, &[("Action", "DescribeAddresses")], "allocationId").await?;
            (addresses >= quotas.elastic_ips as usize).then(|| {
                Before::Answer(Reply::ec2_error(
                    "AddressLimitExceeded",
                    "The maximum number of addresses has been reached.",
                ))
            })
        }
        "CreateNatGateway" => {
            let subnet = req.param("SubnetId")?.to_string();
            let az = subnet_az(rules, req, &subnet).await?;
            let (_, body) = rules
                .upstream(&req.with_body(wire::form_body(&[
                    ("Action", "DescribeNatGateways"),
                    ("Version", "2016-11-15"),
                    ("Filter.1.Name", "state"),
                    ("Filter.1.Value.1", "pending"),
                    ("Filter.1.Value.2", "available"),
                ])))
                .await
                .ok()?;
            let text = String::from_utf8_lossy(&body).into_owned();
            let mut in_az = 0;
            for nat_subnet in blocks(&text, "subnetId") {
                if subnet_az(rules, req, &nat_subnet).await.as_deref() == Some(az.as_str()) {
                    in_az += 1;
                }
            }
            (in_az >= quotas.nat_gateways_per_az as usize).then(|| {
                Before::Answer(Reply::ec2_error(
                    "NatGatewayLimitExceeded",
                    "The maximum number of NAT gateways has been reached.",
                ))
            })
        }
        _ => None,
    }
}

fn account_attributes(quotas: &Quotas) -> Reply {
    let item = |name: &str, value: &str| {
        format!("<item><attributeName>{name}</attributeName><attributeValueSet><item><attributeValue>{value}</attributeValue></item></attributeValueSet></item>")
    };
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><DescribeAccountAttributesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>aws-rules-{}</requestId><accountAttributeSet>{}{}{}</accountAttributeSet></DescribeAccountAttributesResponse>",
        wire::request_id(),
        item("supported-platforms", "VPC"),
        item("vpc-max-elastic-ips", &quotas.elastic_ips.to_string()),
        item("max-elastic-ips", &quotas.elastic_ips.to_string()),
    );
    Reply::xml(bytes::Bytes::from(xml))
}

/// How many `<tag>` moto's answer to an EC2 describe holds.
async fn count(rules: &Rules, req: &Req, fields: &[(&str, &str)], tag: &str) -> Option<usize> {
    let mut fields = fields.to_vec();
    fields.push(("Version", "2016-11-15"));
    let (status, body) = rules.upstream(&req.with_body(wire::form_body(&fields))).await.ok()?;
    if status != StatusCode::OK {
        return None;
    }
    Some(blocks(&String::from_utf8_lossy(&body), tag).len())
}

/// The AZ of a subnet, as moto has it.
async fn subnet_az(rules: &Rules, req: &Req, subnet: &str) -> Option<String> {
    if let Some(s) = rules.state().ec2.subnets.get(subnet) {
        return Some(s.az.clone());
    }
    let (_, body) = rules
        .upstream(&req.with_body(wire::form_body(&[
            ("Action", "DescribeSubnets"),
            ("Version", "2016-11-15"),
            ("SubnetId.1", subnet),
        ])))
        .await
        .ok()?;
    wire::tag(&String::from_utf8_lossy(&body), "availabilityZone").map(str::to_string)
}

/// The text of every `<tag>…</tag>` in `xml`.
fn blocks(xml: &str, tag: &str) -> Vec<String> {
    let mut out = Vec::new();
    wire::map_blocks(xml, tag, |inner| {
        out.push(inner.to_string());
        inner.to_string()
    });
    out
}
