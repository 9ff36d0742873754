// Package recommender turns history and the sizing model into MemoryRecommendation objects.
// convert.go maps sizing results to the v1alpha1 API; the controller that keeps the objects up to
// date lives here too. It may import Kubernetes packages; sizing and history must not.
package recommender
