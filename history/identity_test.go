package history

import "testing"

func TestWorkloadFromPodName(t *testing.T) {
	tests := map[string]struct{ pod, kind, name string }{
		"a Deployment pod: name-<template hash>-<5>": {"orders-5d8f9c7b6d-x2x4z", "Deployment", "orders"},
		"a Deployment with dashes in its name":       {"catalog-api-7c9d8b5f4-bq2lm", "Deployment", "catalog-api"},
		"a StatefulSet pod: name-<ordinal>":          {"index-0", "StatefulSet", "index"},
		"a CronJob pod: name-<minutes>-<5>":          {"nightly-report-29384756-k2j9x", "CronJob", "nightly-report"},
		"a DaemonSet pod: name-<5>":                  {"node-agent-x7k2p", "DaemonSet", "node-agent"},
		"a bare pod keeps its name":                  {"debug", "Pod", "debug"},
		"vowels are not in generated suffixes":       {"my-app-aeiou", "Pod", "my-app-aeiou"},
	}
	for name, tt := range tests {
		if kind, n := WorkloadFromPodName(tt.pod); kind != tt.kind || n != tt.name {
			t.Errorf("%s: WorkloadFromPodName(%q) = %s %s, want %s %s", name, tt.pod, kind, n, tt.kind, tt.name)
		}
	}
}

func TestIdentityResolvesOwnersFirst(t *testing.T) {
	id := identity{
		pods: map[string]owner{
			"web-abc12-zzzzz": {"ReplicaSet", "web-abc12"},
			"orphan-rs-pod":   {"ReplicaSet", "lonely"},
			"job-pod":         {"Job", "nightly-29384756"},
			"db-0":            {"StatefulSet", "db"},
		},
		replicaSets: map[string]owner{"web-abc12": {"Deployment", "web"}},
		haveRS:      true,
	}
	tests := map[string]struct{ pod, kind, name string }{
		"a ReplicaSet owned by a Deployment":          {"web-abc12-zzzzz", "Deployment", "web"},
		"a ReplicaSet without an owner stays one":     {"orphan-rs-pod", "ReplicaSet", "lonely"},
		"without kube_job_owner a scheduled Job name": {"job-pod", "CronJob", "nightly"},
		"a StatefulSet owner":                         {"db-0", "StatefulSet", "db"},
		"no owner metric: the name decides":           {"api-7c9d8b5f4-bq2lm", "Deployment", "api"},
	}
	for name, tt := range tests {
		if kind, n := id.resolve(tt.pod); kind != tt.kind || n != tt.name {
			t.Errorf("%s: resolve(%q) = %s %s, want %s %s", name, tt.pod, kind, n, tt.kind, tt.name)
		}
	}
	// Without kube_replicaset_owner at all, the ReplicaSet's hash suffix says Deployment.
	id = identity{pods: map[string]owner{"p": {"ReplicaSet", "checkout-6b7c8d9f5b"}}}
	if kind, n := id.resolve("p"); kind != "Deployment" || n != "checkout" {
		t.Errorf("resolve without kube_replicaset_owner = %s %s", kind, n)
	}
}
