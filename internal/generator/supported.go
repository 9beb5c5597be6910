package generator

import (
	"fmt"
	"reflect"
	"slices"

	"github.com/hashicorp/nomad/api"
)

// written lists, per Nomad API type, the fields HCL knows how to write. A job
// that sets any other field is refused, so the HCL never silently says less
// than the JSON.
var written = map[reflect.Type][]string{
	reflect.TypeFor[api.Job]():              {"ID", "Name", "Region", "Namespace", "Type", "NodePool", "Datacenters", "Meta", "Constraints", "Update", "Periodic", "TaskGroups"},
	reflect.TypeFor[api.PeriodicConfig]():   {"Specs", "ProhibitOverlap"},
	reflect.TypeFor[api.TaskLifecycle]():    {"Hook", "Sidecar"},
	reflect.TypeFor[api.Constraint]():       {"LTarget", "Operand", "RTarget"},
	reflect.TypeFor[api.UpdateStrategy]():   {"MaxParallel", "MinHealthyTime", "HealthyDeadline", "ProgressDeadline", "AutoRevert"},
	reflect.TypeFor[api.TaskGroup]():        {"Name", "Count", "ShutdownDelay", "RestartPolicy", "ReschedulePolicy", "Networks", "Services", "Tasks"},
	reflect.TypeFor[api.RestartPolicy]():    {"Attempts", "Mode"},
	reflect.TypeFor[api.ReschedulePolicy](): {"Attempts", "Unlimited"},
	reflect.TypeFor[api.NetworkResource]():  {"Mode", "ReservedPorts", "DynamicPorts"},
	reflect.TypeFor[api.Port]():             {"Label", "Value", "To"},
	reflect.TypeFor[api.Service]():          {"Name", "PortLabel", "Tags", "Meta", "Checks"},
	reflect.TypeFor[api.ServiceCheck]():     {"Type", "Path", "Interval", "Timeout"},
	reflect.TypeFor[api.Task]():             {"Name", "Driver", "Lifecycle", "Config", "KillTimeout", "Env", "Identities", "Consul", "Resources", "Templates"},
	reflect.TypeFor[api.Consul]():           {"Cluster", "Namespace", "Partition"},
	reflect.TypeFor[api.WorkloadIdentity](): {"Name", "Audience", "ChangeMode", "Env", "File", "TTL"},
	reflect.TypeFor[api.Template]():         {"EmbeddedTmpl", "DestPath", "ChangeMode", "ChangeSignal", "ChangeScript", "Splay", "Wait", "LeftDelim", "RightDelim"},
	reflect.TypeFor[api.ChangeScript]():     {"Command", "Args", "Timeout", "FailOnError"},
	reflect.TypeFor[api.WaitConfig]():       {"Min", "Max"},
	reflect.TypeFor[api.Resources]():        {"CPU", "MemoryMB", "MemoryMaxMB"},
}

// fieldSplit is a struct type's field indices: those HCL writes (walked
// into) and those it does not (which must be zero).
type fieldSplit struct {
	written, other []int
}

var splits = func() map[reflect.Type]fieldSplit {
	out := map[reflect.Type]fieldSplit{}
	for t, names := range written {
		var s fieldSplit
		for i := range t.NumField() {
			if slices.Contains(names, t.Field(i).Name) {
				s.written = append(s.written, i)
			} else {
				s.other = append(s.other, i)
			}
		}
		out[t] = s
	}
	return out
}()

// unsupported returns an error naming the first field of job that HCL does
// not write.
func unsupported(job *api.Job) error {
	if path := walkWritten(reflect.ValueOf(job)); path != "" {
		return fmt.Errorf("generator: Job%s is set, but the HCL writer does not write it", path)
	}
	return nil
}

// walkWritten returns the path below v of the first field set that HCL does
// not write, or "".
func walkWritten(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return ""
		}
		return walkWritten(v.Elem())
	case reflect.Slice:
		for i := range v.Len() {
			if p := walkWritten(v.Index(i)); p != "" {
				return fmt.Sprintf("[%d]%s", i, p)
			}
		}
	case reflect.Struct:
		s, ok := splits[v.Type()]
		if !ok {
			return ""
		}
		for _, i := range s.other {
			if !v.Field(i).IsZero() {
				return "." + v.Type().Field(i).Name
			}
		}
		for _, i := range s.written {
			if p := walkWritten(v.Field(i)); p != "" {
				return "." + v.Type().Field(i).Name + p
			}
		}
	}
	return ""
}
