//! The writer's requests, asserted through kube's mocked service (tower-test).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use http::{Request, Response};
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};
use tower_test::mock;

use super::KubeWriter;
use crate::crd::{
    VerticalPodAutoscalerCheckpoint, VerticalPodAutoscalerCheckpointSpec,
    VerticalPodAutoscalerStatus,
};
use crate::ports::{ObjectKey, VpaWriter, WriteError};

type Handle = mock::Handle<Request<Body>, Response<Body>>;

fn writer() -> (KubeWriter, Handle) {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    (KubeWriter::new(Client::new(service, "default")), handle)
}

async fn body(request: Request<Body>) -> Value {
    let bytes = request.into_body().collect_bytes().await.unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn answer(code: u16, value: &Value) -> Response<Body> {
    Response::builder()
        .status(code)
        .body(Body::from(serde_json::to_vec(value).unwrap()))
        .unwrap()
}

fn vpa_object() -> Value {
    json!({"apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
           "metadata": {"name": "web", "namespace": "shop"}, "spec": {}})
}

#[tokio::test]
async fn a_status_is_a_merge_patch_of_the_status_subresource() {
    let (writer, mut handle) = writer();
    let server = tokio::spawn(async move {
        let (request, send) = handle.next_request().await.unwrap();
        assert_eq!(request.method(), "PATCH");
        assert_eq!(
            request.uri().path(),
            "/apis/autoscaling.k8s.io/v1/namespaces/shop/verticalpodautoscalers/web/status"
        );
        assert_eq!(
            request.headers()["content-type"],
            "application/merge-patch+json"
        );
        let patch = body(request).await;
        assert_eq!(
            patch["status"]["conditions"][0]["type"], "RecommendationProvided",
            "{patch}"
        );
        assert!(patch.get("spec").is_none(), "only status is sent: {patch}");
        send.send_response(answer(200, &vpa_object()));

        let (_, send) = handle.next_request().await.unwrap();
        send.send_response(answer(404, &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404, "message": "not found"})));
    });
    let status: VerticalPodAutoscalerStatus = serde_json::from_value(json!({
        "conditions": [{"type": "RecommendationProvided", "status": "True"}]
    }))
    .unwrap();
    let key = ObjectKey::new("shop", "web");
    writer.write_status(&key, &status).await.unwrap();
    let err = writer.write_status(&key, &status).await.unwrap_err();
    assert!(matches!(err, WriteError::NotFound(_)), "{err}");
    assert_eq!(err.label(), "not_found");
    server.await.unwrap();
}

#[tokio::test]
async fn a_checkpoint_is_one_server_side_apply() {
    let (writer, mut handle) = writer();
    let server = tokio::spawn(async move {
        let (request, send) = handle.next_request().await.unwrap();
        assert_eq!(request.method(), "PATCH");
        assert_eq!(
            request.uri().path(),
            "/apis/autoscaling.k8s.io/v1/namespaces/shop/verticalpodautoscalercheckpoints/web-app"
        );
        let query = request.uri().query().unwrap().to_owned();
        assert!(
            query.contains("fieldManager=tidal-vpa") && query.contains("force=true"),
            "{query}"
        );
        assert_eq!(
            request.headers()["content-type"],
            "application/apply-patch+yaml"
        );
        let object = body(request).await;
        assert_eq!(object["spec"]["vpaObjectName"], "web");
        assert_eq!(object["status"]["version"], "v3");
        send.send_response(answer(200, &object));

        let (request, send) = handle.next_request().await.unwrap();
        assert_eq!(request.method(), "DELETE");
        send.send_response(answer(404, &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404})));
    });
    let mut checkpoint = VerticalPodAutoscalerCheckpoint::new(
        "web-app",
        VerticalPodAutoscalerCheckpointSpec {
            vpa_object_name: "web".into(),
            container_name: "app".into(),
        },
    );
    checkpoint.metadata.namespace = Some("shop".into());
    checkpoint.metadata.resource_version = Some("7".into());
    checkpoint.status = Some(crate::crd::VerticalPodAutoscalerCheckpointStatus {
        version: "v3".into(),
        ..Default::default()
    });
    writer.write_checkpoint(&checkpoint).await.unwrap();
    // Deleting a checkpoint that is already gone is not an error.
    writer
        .delete_checkpoint(&ObjectKey::new("shop", "web-app"))
        .await
        .unwrap();
    server.await.unwrap();
}
