// Package deploy holds no code: its tests check the deployment kit beside
// them (the Dockerfile, compose.yaml, the Kubernetes manifests in k8s/,
// the Prometheus rules and the Grafana dashboard) against a real node
// built from the module one directory up. It is a module of its own so
// that the Kubernetes and Prometheus packages the tests decode with stay
// out of the node's go.mod.
package deploy
