// Package testenv helps integration tests find the real programs they drive,
// such as consul and haproxy, and pick free loopback ports for them.
//
// scripts/test installs or builds those programs and puts them on PATH before
// it runs go test. A test that needs one calls [RequireBinary]: outside CI a
// missing program skips the test with a hint to run scripts/test; with
// CI=true it fails the test, so that CI never passes by skipping.
package testenv
