//! Kubernetes access to the stack's EKS cluster without the AWS CLI: `ekstack
//! token` makes the EKS bearer token natively and `ekstack kubeconfig` merges a
//! context whose exec user calls back into `ekstack token`, so a user needs only
//! this binary and kubectl.

pub mod kubeconfig;
pub mod manifests;
pub mod token;
