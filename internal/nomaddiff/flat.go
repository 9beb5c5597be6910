package nomaddiff

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/hashicorp/nomad/api"
)

// flat is an object's primitive fields as Nomad's flatmap.Flatten makes
// them: field name to value, maps as Name[key]. A nil object is a nil flat.
type flat map[string]string

func (f flat) str(name string, v string)               { f[name] = v }
func (f flat) bool(name string, v bool)                { f[name] = strconv.FormatBool(v) }
func (f flat) int(name string, v int64)                { f[name] = strconv.FormatInt(v, 10) }
func (f flat) strp(name string, v *string)             { f[name] = deref(v) }
func (f flat) boolp(name string, v *bool)              { f.bool(name, v != nil && *v) }
func (f flat) intp(name string, v *int)                { f.int(name, int64(derefInt(v))) }
func (f flat) durp(name string, v *time.Duration)      { f.int(name, int64(derefDur(v))) }
func (f flat) dur(name string, v time.Duration)        { f.int(name, int64(v)) }
func (f flat) strmap(name string, m map[string]string) { f.merge(flatMap(name, m)) }

func (f flat) merge(g flat) {
	for k, v := range g {
		f[k] = v
	}
}

func flatMap(name string, m map[string]string) flat {
	out := flat{}
	for k, v := range m {
		out[name+"["+k+"]"] = v
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func derefInt(v *int) int {
	if v == nil {
		return 0
	}
	return *v
}

func derefDur(v *time.Duration) time.Duration {
	if v == nil {
		return 0
	}
	return *v
}

// The primitive fields of each object Nomad 2.0.6 diffs, as its structs
// have them (the recorded plan answers list them). A nil object has no
// fields.

func jobFlat(j *api.Job) flat {
	if j == nil {
		return nil
	}
	f := flat{}
	f.boolp("Stop", j.Stop)
	f.strp("Region", j.Region)
	f.strp("Namespace", j.Namespace)
	f.strp("ParentID", j.ParentID)
	f.strp("Name", j.Name)
	f.strp("Type", j.Type)
	f.intp("Priority", j.Priority)
	f.boolp("AllAtOnce", j.AllAtOnce)
	f.strp("NodePool", j.NodePool)
	f.bool("Dispatched", j.Dispatched)
	f.str("DispatchIdempotencyToken", deref(j.DispatchIdempotencyToken))
	f.strp("ConsulNamespace", j.ConsulNamespace)
	f.strp("VaultNamespace", j.VaultNamespace)
	f.strmap("Meta", j.Meta)
	return f
}

func groupFlat(tg *api.TaskGroup) flat {
	if tg == nil {
		return nil
	}
	f := flat{}
	f.intp("Count", tg.Count)
	f.boolp("PreventRescheduleOnLost", tg.PreventRescheduleOnLost)
	f.strmap("Meta", tg.Meta)
	return f
}

func taskFlat(t *api.Task) flat {
	if t == nil {
		return nil
	}
	f := flat{}
	f.str("Driver", t.Driver)
	f.str("User", t.User)
	f.str("KillSignal", t.KillSignal)
	f.durp("KillTimeout", t.KillTimeout)
	f.bool("Leader", t.Leader)
	f.durp("ShutdownDelay", &t.ShutdownDelay)
	f.str("Kind", t.Kind)
	f.strmap("Env", t.Env)
	f.strmap("Meta", t.Meta)
	return f
}

func constraintFlat(c *api.Constraint) flat {
	if c == nil {
		return nil
	}
	return flat{"LTarget": c.LTarget, "Operand": c.Operand, "RTarget": c.RTarget}
}

func restartFlat(r *api.RestartPolicy) flat {
	if r == nil {
		return nil
	}
	f := flat{}
	f.intp("Attempts", r.Attempts)
	f.durp("Delay", r.Delay)
	f.durp("Interval", r.Interval)
	f.strp("Mode", r.Mode)
	f.boolp("RenderTemplates", r.RenderTemplates)
	return f
}

func migrateFlat(m *api.MigrateStrategy) flat {
	if m == nil {
		return nil
	}
	f := flat{}
	f.strp("HealthCheck", m.HealthCheck)
	f.durp("HealthyDeadline", m.HealthyDeadline)
	f.intp("MaxParallel", m.MaxParallel)
	f.durp("MinHealthyTime", m.MinHealthyTime)
	return f
}

func rescheduleFlat(r *api.ReschedulePolicy) flat {
	if r == nil {
		return nil
	}
	f := flat{}
	f.intp("Attempts", r.Attempts)
	f.durp("Delay", r.Delay)
	f.strp("DelayFunction", r.DelayFunction)
	f.durp("Interval", r.Interval)
	f.durp("MaxDelay", r.MaxDelay)
	f.boolp("Unlimited", r.Unlimited)
	return f
}

func diskFlat(d *api.EphemeralDisk) flat {
	if d == nil {
		return nil
	}
	f := flat{}
	f.boolp("Migrate", d.Migrate)
	f.intp("SizeMB", d.SizeMB)
	f.boolp("Sticky", d.Sticky)
	return f
}

// updateFlat leaves out Stagger, as Nomad's diff does.
func updateFlat(u *api.UpdateStrategy) flat {
	if u == nil {
		return nil
	}
	f := flat{}
	f.boolp("AutoPromote", u.AutoPromote)
	f.boolp("AutoRevert", u.AutoRevert)
	f.intp("Canary", u.Canary)
	f.strp("HealthCheck", u.HealthCheck)
	f.durp("HealthyDeadline", u.HealthyDeadline)
	f.intp("MaxParallel", u.MaxParallel)
	f.durp("MinHealthyTime", u.MinHealthyTime)
	f.durp("ProgressDeadline", u.ProgressDeadline)
	return f
}

// networkFlat leaves out Device, CIDR and IP, as Nomad's diff does.
func networkFlat(n *api.NetworkResource) flat {
	if n == nil {
		return nil
	}
	return flat{"Hostname": n.Hostname, "Mode": n.Mode}
}

func staticPortFlat(p *api.Port) flat {
	if p == nil {
		return nil
	}
	f := flat{"HostNetwork": p.HostNetwork, "Label": p.Label}
	f.bool("IgnoreCollision", p.IgnoreCollision)
	f.int("To", int64(p.To))
	f.int("Value", int64(p.Value))
	return f
}

// dynamicPortFlat leaves out the Value, which the scheduler assigns.
func dynamicPortFlat(p *api.Port) flat {
	if p == nil {
		return nil
	}
	f := flat{"HostNetwork": p.HostNetwork, "Label": p.Label}
	f.int("To", int64(p.To))
	return f
}

func serviceFlat(s *api.Service, namespace string) flat {
	if s == nil {
		return nil
	}
	f := flat{
		"Address": s.Address, "AddressMode": s.AddressMode, "Cluster": s.Cluster, "Kind": s.Kind,
		"Name": s.Name, "Namespace": namespace, "OnUpdate": s.OnUpdate, "PortLabel": s.PortLabel,
		"Provider": s.Provider, "TaskName": s.TaskName,
	}
	f.bool("EnableTagOverride", s.EnableTagOverride)
	f.strmap("Meta", s.Meta)
	f.strmap("CanaryMeta", s.CanaryMeta)
	f.strmap("TaggedAddresses", s.TaggedAddresses)
	return f
}

func checkFlat(c *api.ServiceCheck) flat {
	if c == nil {
		return nil
	}
	f := flat{
		"AddressMode": c.AddressMode, "Body": c.Body, "Command": c.Command, "GRPCService": c.GRPCService,
		"InitialStatus": c.InitialStatus, "Method": c.Method, "Name": c.Name, "Notes": c.Notes,
		"OnUpdate": c.OnUpdate, "Path": c.Path, "PortLabel": c.PortLabel, "Protocol": c.Protocol,
		"TLSServerName": c.TLSServerName, "TaskName": c.TaskName, "Type": c.Type,
	}
	f.bool("Expose", c.Expose)
	f.int("FailuresBeforeCritical", int64(c.FailuresBeforeCritical))
	f.int("FailuresBeforeWarning", int64(c.FailuresBeforeWarning))
	f.bool("GRPCUseTLS", c.GRPCUseTLS)
	f.dur("Interval", c.Interval)
	f.int("SuccessBeforePassing", int64(c.SuccessBeforePassing))
	f.bool("TLSSkipVerify", c.TLSSkipVerify)
	f.dur("Timeout", c.Timeout)
	return f
}

func resourcesFlat(r *api.Resources) flat {
	if r == nil {
		return nil
	}
	f := flat{}
	f.intp("CPU", r.CPU)
	f.intp("Cores", r.Cores)
	f.intp("DiskMB", r.DiskMB)
	f.intp("IOPS", r.IOPS)
	f.intp("MemoryMB", r.MemoryMB)
	f.intp("MemoryMaxMB", r.MemoryMaxMB)
	f.intp("SecretsMB", r.SecretsMB)
	return f
}

func logFlat(l *api.LogConfig) flat {
	if l == nil {
		return nil
	}
	f := flat{}
	f.boolp("Disabled", l.Disabled)
	f.intp("MaxFileSizeMB", l.MaxFileSizeMB)
	f.intp("MaxFiles", l.MaxFiles)
	return f
}

func consulFlat(c *api.Consul) flat {
	if c == nil {
		return nil
	}
	f := flat{}
	f.str("Cluster", c.Cluster)
	f.str("Namespace", c.Namespace)
	f.str("Partition", c.Partition)
	return f
}

func templateFlat(t *api.Template) flat {
	if t == nil {
		return nil
	}
	f := flat{}
	f.strp("ChangeMode", t.ChangeMode)
	f.strp("ChangeSignal", t.ChangeSignal)
	f.strp("DestPath", t.DestPath)
	f.strp("EmbeddedTmpl", t.EmbeddedTmpl)
	f.boolp("Envvars", t.Envvars)
	f.boolp("ErrMissingKey", t.ErrMissingKey)
	f.strp("LeftDelim", t.LeftDelim)
	f.boolp("Once", t.Once)
	f.strp("Perms", t.Perms)
	f.strp("RightDelim", t.RightDelim)
	f.strp("SourcePath", t.SourcePath)
	f.durp("Splay", t.Splay)
	f.durp("VaultGrace", t.VaultGrace)
	return f
}

func identityFlat(w *api.WorkloadIdentity) flat {
	if w == nil {
		return nil
	}
	f := flat{
		"ChangeMode": w.ChangeMode, "ChangeSignal": w.ChangeSignal, "Filepath": w.Filepath,
		"Name": w.Name, "ServiceName": w.ServiceName,
	}
	f.bool("Env", w.Env)
	f.bool("File", w.File)
	f.dur("TTL", w.TTL)
	return f
}

func periodicFlat(p *api.PeriodicConfig) flat {
	if p == nil {
		return nil
	}
	f := flat{}
	f.boolp("Enabled", p.Enabled)
	f.boolp("ProhibitOverlap", p.ProhibitOverlap)
	f.strp("Spec", p.Spec)
	f.strp("SpecType", p.SpecType)
	f.strp("TimeZone", p.TimeZone)
	return f
}

// configFlat flattens a task's driver config as Nomad's flatmap does with
// every value: lists as name[i], maps as name[key].
func configFlat(c map[string]any) flat {
	f := flat{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case nil:
			f[prefix] = "nil"
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(subKey(prefix, k), v[k])
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s[%d]", prefix, i), e)
			}
		case []string:
			for i, e := range v {
				walk(fmt.Sprintf("%s[%d]", prefix, i), e)
			}
		case string:
			f[prefix] = v
		case bool:
			f[prefix] = strconv.FormatBool(v)
		case float64:
			f[prefix] = strconv.FormatFloat(v, 'g', -1, 64)
		default:
			f[prefix] = fmt.Sprint(v)
		}
	}
	for k, v := range c {
		walk(k, v)
	}
	return f
}

func subKey(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "[" + key + "]"
}
