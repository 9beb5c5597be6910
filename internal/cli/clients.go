package cli

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/strata-dev/strata/internal/config"
	"github.com/strata-dev/strata/internal/sweeper"
)

// The one place where strata builds its Nomad and Consul clients, for
// every command that talks to them (deploy, plan, status, sweep, promote,
// rollback, cohort).
//
// The environment is read the way nomadapi.DefaultConfig and
// consulapi.DefaultConfig read it (NOMAD_ADDR, NOMAD_TOKEN, NOMAD_REGION,
// NOMAD_NAMESPACE, NOMAD_HTTP_AUTH, NOMAD_CACERT, NOMAD_CAPATH,
// NOMAD_CLIENT_CERT, NOMAD_CLIENT_KEY, NOMAD_TLS_SERVER_NAME,
// NOMAD_SKIP_VERIFY; CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN,
// CONSUL_HTTP_TOKEN_FILE, CONSUL_HTTP_AUTH, CONSUL_HTTP_SSL,
// CONSUL_HTTP_SSL_VERIFY, CONSUL_CACERT, CONSUL_CAPATH, CONSUL_CLIENT_CERT,
// CONSUL_CLIENT_KEY, CONSUL_TLS_SERVER_NAME, CONSUL_NAMESPACE,
// CONSUL_PARTITION), but through c.LookupEnv, so that tests and callers
// choose the environment. Inside a Nomad task, without CONSUL_HTTP_TOKEN or
// CONSUL_HTTP_TOKEN_FILE, the Consul token Nomad gave the task is used
// (nomadTaskConsulToken).
//
// Namespace and region: the jobs carry strata.yaml's namespace and region
// (namespace:, STRATA_NAMESPACE, --namespace; likewise region), and Nomad
// files a job under its own namespace only when the request names none, so
// every request must name the namespace the jobs are in. strata.yaml's
// setting therefore wins; NOMAD_NAMESPACE (and NOMAD_REGION) apply only
// when strata.yaml sets none, which is also where deploy registers jobs
// without a namespace; then "default". A NOMAD_NAMESPACE that strata.yaml
// overrides is named in a note on stderr, never silently dropped.

// nomadTarget is where strata's Nomad requests go.
type nomadTarget struct {
	Client    *nomadapi.Client
	Namespace string
	Region    string
}

// nomadClient builds the Nomad client for cfg's jobs.
func (c *CLI) nomadClient(cfg *config.Config) (nomadTarget, error) {
	nc := &nomadapi.Config{Address: "http://127.0.0.1:4646", TLSConfig: &nomadapi.TLSConfig{}}
	env := func(name string) string { v, _ := c.lookupEnv(name); return v }
	if v := env("NOMAD_ADDR"); v != "" {
		nc.Address = v
	}
	nc.Region = env("NOMAD_REGION")
	nc.Namespace = env("NOMAD_NAMESPACE")
	if auth := env("NOMAD_HTTP_AUTH"); auth != "" {
		user, pass, _ := strings.Cut(auth, ":")
		nc.HttpAuth = &nomadapi.HttpBasicAuth{Username: user, Password: pass}
	}
	nc.TLSConfig.CACert = env("NOMAD_CACERT")
	nc.TLSConfig.CAPath = env("NOMAD_CAPATH")
	nc.TLSConfig.ClientCert = env("NOMAD_CLIENT_CERT")
	nc.TLSConfig.ClientKey = env("NOMAD_CLIENT_KEY")
	nc.TLSConfig.TLSServerName = env("NOMAD_TLS_SERVER_NAME")
	if v := env("NOMAD_SKIP_VERIFY"); v != "" {
		if insecure, err := strconv.ParseBool(v); err == nil {
			nc.TLSConfig.Insecure = insecure
		}
	}
	nc.SecretID = env("NOMAD_TOKEN")

	if cfg != nil && cfg.Namespace != "" {
		if nc.Namespace != "" && nc.Namespace != cfg.Namespace {
			fmt.Fprintf(c.Stderr, "strata: note: NOMAD_NAMESPACE=%s is not used: %s puts the jobs in namespace %s\n", nc.Namespace, cfg.File, cfg.Namespace)
		}
		nc.Namespace = cfg.Namespace
	}
	if nc.Namespace == "" {
		nc.Namespace = nomadapi.DefaultNamespace
	}
	if cfg != nil && cfg.Region != "" {
		nc.Region = cfg.Region
	}

	if !strings.HasPrefix(nc.Address, "unix:") {
		// The client nomadapi.NewClient would build, with connection
		// errors that say what to do.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSHandshakeTimeout = 10 * time.Second
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		tr.ForceAttemptHTTP2 = false
		hc := &http.Client{Transport: tr}
		if err := nomadapi.ConfigureTLS(hc, nc.TLSConfig); err != nil {
			return nomadTarget{}, fmt.Errorf("setting up TLS for Nomad (NOMAD_CACERT, NOMAD_CAPATH, NOMAD_CLIENT_CERT, NOMAD_CLIENT_KEY): %w", err)
		}
		hc.Transport = reachTransport{next: tr, service: "Nomad", addr: nc.Address, env: "NOMAD_ADDR"}
		nc.HttpClient = hc
	}
	client, err := nomadapi.NewClient(nc)
	if err != nil {
		return nomadTarget{}, fmt.Errorf("setting up the Nomad client (NOMAD_ADDR=%s): %w", nc.Address, err)
	}
	return nomadTarget{Client: client, Namespace: nc.Namespace, Region: nc.Region}, nil
}

// consulClient builds the Consul client.
func (c *CLI) consulClient() (*consulapi.Client, error) {
	cc := &consulapi.Config{Address: "127.0.0.1:8500", Scheme: "http"}
	env := func(name string) string { v, _ := c.lookupEnv(name); return v }
	if v := env(consulapi.HTTPAddrEnvName); v != "" {
		cc.Address = v
	}
	cc.TokenFile = env(consulapi.HTTPTokenFileEnvName)
	cc.Token = env(consulapi.HTTPTokenEnvName)
	if cc.Token == "" && cc.TokenFile == "" {
		cc.Token, cc.TokenFile = c.nomadTaskConsulToken()
	}
	if auth := env(consulapi.HTTPAuthEnvName); auth != "" {
		user, pass, _ := strings.Cut(auth, ":")
		cc.HttpAuth = &consulapi.HttpBasicAuth{Username: user, Password: pass}
	}
	if v := env(consulapi.HTTPSSLEnvName); v != "" {
		enabled, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("%s=%q: expected true or false", consulapi.HTTPSSLEnvName, v)
		}
		if enabled {
			cc.Scheme = "https"
		}
	}
	cc.TLSConfig.Address = env(consulapi.HTTPTLSServerName)
	cc.TLSConfig.CAFile = env(consulapi.HTTPCAFile)
	cc.TLSConfig.CAPath = env(consulapi.HTTPCAPath)
	cc.TLSConfig.CertFile = env(consulapi.HTTPClientCert)
	cc.TLSConfig.KeyFile = env(consulapi.HTTPClientKey)
	if v := env(consulapi.HTTPSSLVerifyEnvName); v != "" {
		verify, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("%s=%q: expected true or false", consulapi.HTTPSSLVerifyEnvName, v)
		}
		cc.TLSConfig.InsecureSkipVerify = !verify
	}
	cc.Namespace = env(consulapi.HTTPNamespaceEnvName)
	cc.Partition = env(consulapi.HTTPPartitionEnvName)

	shown := cc.Address
	if !strings.Contains(shown, "://") {
		shown = cc.Scheme + "://" + shown
	}
	if !strings.HasPrefix(cc.Address, "unix:") {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		hc, err := consulapi.NewHttpClient(tr, cc.TLSConfig)
		if err != nil {
			return nil, fmt.Errorf("setting up TLS for Consul (CONSUL_CACERT, CONSUL_CAPATH, CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY): %w", err)
		}
		hc.Transport = reachTransport{next: tr, service: "Consul", addr: shown, env: consulapi.HTTPAddrEnvName}
		cc.HttpClient = hc
	}
	client, err := consulapi.NewClient(cc)
	if err != nil {
		return nil, fmt.Errorf("setting up the Consul client (%s=%s): %w", consulapi.HTTPAddrEnvName, cc.Address, err)
	}
	return client, nil
}

// nomadTaskConsulToken is the Consul token Nomad gave the task strata runs
// in, for when neither CONSUL_HTTP_TOKEN nor CONSUL_HTTP_TOKEN_FILE is set:
// on a cluster whose Nomad servers configure consul.task_identity, Nomad's
// client logs the task in to Consul with its implicit consul_default
// identity and hands it the token as CONSUL_TOKEN (Nomad sets
// CONSUL_HTTP_TOKEN too) and in ${NOMAD_SECRETS_DIR}/consul_token. It
// returns the token, or else the file when it exists; nothing outside a
// Nomad task (NOMAD_SECRETS_DIR unset) and nothing when Nomad gave no token
// (a cluster without Consul ACLs), so that the client's default applies.
func (c *CLI) nomadTaskConsulToken() (token, file string) {
	dir, _ := c.lookupEnv("NOMAD_SECRETS_DIR")
	if dir == "" {
		return "", ""
	}
	if v, _ := c.lookupEnv("CONSUL_TOKEN"); v != "" {
		return v, ""
	}
	f := filepath.Join(dir, nomadConsulTokenFile)
	if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() {
		return "", f
	}
	return "", ""
}

// nomadConsulTokenFile is the file in a task's secrets directory where
// Nomad's client writes the Consul token of the task's Consul identity.
const nomadConsulTokenFile = "consul_token"

// sources builds the Nomad and Consul clients a sweeper pass, plan and
// deploy use.
func (c *CLI) sources(cfg *config.Config) (sweeper.Sources, error) {
	nomad, err := c.nomadClient(cfg)
	if err != nil {
		return sweeper.Sources{}, err
	}
	consul, err := c.consulClient()
	if err != nil {
		return sweeper.Sources{}, err
	}
	minAge := time.Duration(0)
	for _, a := range cfg.Apps {
		minAge = max(minAge, a.Retire.MinAge)
	}
	return sweeper.Sources{Nomad: nomad.Client, Consul: consul, HTTP: &http.Client{Timeout: 10 * time.Second},
		Namespace: nomad.Namespace, MinAge: max(minAge, config.DefaultMinAge)}, nil
}

// reachTransport turns a failure to reach Nomad or Consul into an error
// that says what to check: the one place connection errors are explained.
type reachTransport struct {
	next               http.RoundTripper
	service, addr, env string
}

func (t reachTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil && req.Context().Err() == nil && unreachable(err) {
		return nil, &unreachableError{service: t.service, addr: t.addr, env: t.env, err: err}
	}
	return resp, err
}

// unreachable reports whether err means no server answered at the address.
func unreachable(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	return errors.As(err, &op) || errors.As(err, &dns)
}

// unreachableError is a request that found no Nomad or Consul agent.
type unreachableError struct {
	service, addr, env string
	err                error
}

func (e *unreachableError) Error() string {
	return fmt.Sprintf("cannot reach %s at %s (%v): is the %s agent running there? Set %s to its address", e.service, e.addr, e.err, e.service, e.env)
}

func (e *unreachableError) Unwrap() error { return e.err }
