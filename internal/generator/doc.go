// Package generator turns a strata configuration into Nomad jobs: one
// *api.Job per (app, version), built from github.com/hashicorp/nomad/api's own
// types with only the fields the configuration sets, then written as
// canonical HCL2 (with hclwrite) and as API JSON (with encoding/json) of the
// same values.
//
// Rendering is a pure function of the configuration: it never reads the
// clock or the environment, so the same strata.yaml gives the same bytes.
//
// The package is internal, like the configuration type its API takes: strata's
// command line is its only user, and a public package whose functions take an
// internal type could not be called from outside anyway.
package generator
