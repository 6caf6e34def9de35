//! The app's Kubernetes manifests, ready for `kubectl apply -f -`: its
//! Namespace, the ServiceAccounts of the stack's pod identities, a
//! ConfigMap with the database's settings, and an example Deployment,
//! Service, Ingress (an ALB through the load balancer controller, or EKS
//! Auto Mode's own load balancing with its IngressClass) and
//! HorizontalPodAutoscaler. The password is never in them: the app reads it
//! from Secrets Manager through its identity.

use serde_json::{json, Value};

use crate::config::{lb_controller, Mechanism};
use crate::ops::output::Outputs;

/// The IngressClass (and its IngressClassParams) for Auto Mode's ALBs.
pub const AUTO_MODE_INGRESS_CLASS: &str = "alb";

/// What the manifests are made for.
pub struct App<'a> {
    pub stack: &'a str,
    pub namespace: &'a str,
    pub outputs: &'a Outputs,
}

fn labels(app: &App<'_>) -> Value {
    json!({"app.kubernetes.io/name": format!("{}-api", app.stack), "app.kubernetes.io/managed-by": "ekstack"})
}

fn dash(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "-".into())
}

/// The manifests, in the order `kubectl apply` needs them.
pub fn manifests(app: &App<'_>) -> Vec<Value> {
    let o = app.outputs;
    let name = format!("{}-api", app.stack);
    let mut docs = vec![json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": app.namespace, "labels": {"app.kubernetes.io/managed-by": "ekstack"}},
    })];
    // The controller's account is made by its Helm chart.
    let accounts = o
        .service_accounts
        .iter()
        .filter(|sa| sa.identity != lb_controller::IDENTITY);
    for sa in accounts {
        let mut metadata = json!({
            "name": sa.name,
            "namespace": sa.namespace,
            "labels": {"app.kubernetes.io/managed-by": "ekstack"},
        });
        // IRSA reads the role from the annotation; Pod Identity needs none.
        if sa.mechanism == Mechanism::Irsa {
            metadata["annotations"] = json!({
                "eks.amazonaws.com/role-arn": sa.role_arn.clone().unwrap_or_else(|| "(known after apply)".into()),
            });
        }
        docs.push(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata}));
    }
    let mut data = json!({
        // Through the proxy where there is one: it pools the pods' connections.
        "DB_HOST": dash(&o.db_proxy_endpoint.clone().or_else(|| o.db_endpoint.clone())),
        "DB_PORT": o.db_port.map(|p| p.to_string()).unwrap_or_default(),
        "DB_NAME": dash(&o.db_name),
        "DB_USER": dash(&o.db_username),
        "DB_SECRET_ARN": dash(&o.db_secret_arn),
        "AWS_REGION": o.region,
    });
    if let Some(reader) = &o.db_reader_endpoint {
        data["DB_READER_HOST"] = json!(reader);
    }
    // Read replicas have no shared endpoint: an app spreading reads over
    // more than one takes the list.
    if o.db_replica_endpoints.len() > 1 {
        data["DB_READER_HOSTS"] = json!(o.db_replica_endpoints.join(","));
    }
    docs.push(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": format!("{}-db", app.stack), "namespace": app.namespace, "labels": labels(app)},
        "data": data,
    }));
    // The identity that may read the database's secret runs the app.
    let account = o
        .service_accounts
        .iter()
        .find(|sa| sa.namespace == app.namespace && sa.database)
        .map(|sa| sa.name.clone());
    let mut pod = json!({
        "containers": [{
            "name": "api",
            // Replace with the API's image; it reads DB_SECRET_ARN at start.
            "image": "public.ecr.aws/nginx/nginx:1.27",
            "ports": [{"containerPort": 80, "name": "http"}],
            "envFrom": [{"configMapRef": {"name": format!("{}-db", app.stack)}}],
            "resources": {
                "requests": {"cpu": "250m", "memory": "256Mi"},
                "limits": {"memory": "512Mi"},
            },
            "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 10},
        }],
    });
    if let Some(sa) = &account {
        pod["serviceAccountName"] = json!(sa);
    }
    docs.push(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": app.namespace, "labels": labels(app)},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {"metadata": {"labels": labels(app)}, "spec": pod},
        },
    }));
    docs.push(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": app.namespace, "labels": labels(app)},
        "spec": {
            "selector": {"app.kubernetes.io/name": name},
            "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
        },
    }));
    let rules = json!([{"http": {"paths": [{
        "path": "/",
        "pathType": "Prefix",
        "backend": {"service": {"name": name, "port": {"name": "http"}}},
    }]}}]);
    if o.auto_mode {
        // Auto Mode's load balancing answers an IngressClass naming its
        // controller, with the ALB's settings in an IngressClassParams
        // ("Create an IngressClass to configure an Application Load
        // Balancer", EKS user guide). Both are cluster-scoped.
        docs.push(json!({
            "apiVersion": "eks.amazonaws.com/v1",
            "kind": "IngressClassParams",
            "metadata": {"name": AUTO_MODE_INGRESS_CLASS, "labels": {"app.kubernetes.io/managed-by": "ekstack"}},
            "spec": {"scheme": "internet-facing"},
        }));
        docs.push(json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "IngressClass",
            "metadata": {"name": AUTO_MODE_INGRESS_CLASS, "labels": {"app.kubernetes.io/managed-by": "ekstack"}},
            "spec": {
                "controller": "eks.amazonaws.com/alb",
                "parameters": {
                    "apiGroup": "eks.amazonaws.com",
                    "kind": "IngressClassParams",
                    "name": AUTO_MODE_INGRESS_CLASS,
                },
            },
        }));
        docs.push(json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": name, "namespace": app.namespace, "labels": labels(app)},
            "spec": {"ingressClassName": AUTO_MODE_INGRESS_CLASS, "rules": rules},
        }));
    } else if o
        .service_accounts
        .iter()
        .any(|sa| sa.identity == lb_controller::IDENTITY)
    {
        docs.push(json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {
                "name": name,
                "namespace": app.namespace,
                "labels": labels(app),
                "annotations": {
                    "alb.ingress.kubernetes.io/scheme": "internet-facing",
                    // Fargate pods have no node port: the ALB targets pod IPs.
                    "alb.ingress.kubernetes.io/target-type": "ip",
                },
            },
            "spec": {
                "ingressClassName": "alb",
                "rules": rules,
            },
        }));
    }
    docs.push(json!({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": app.namespace, "labels": labels(app)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": 2,
            "maxReplicas": 6,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}],
        },
    }));
    docs
}
