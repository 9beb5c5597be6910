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
	reflect.TypeFor[api.Job]():             {"ID", "Name", "Region", "Namespace", "Type", "NodePool", "Datacenters", "Meta", "Constraints", "Update", "TaskGroups"},
	reflect.TypeFor[api.Constraint]():      {"LTarget", "Operand", "RTarget"},
	reflect.TypeFor[api.UpdateStrategy]():  {"MaxParallel", "MinHealthyTime", "HealthyDeadline", "ProgressDeadline", "AutoRevert"},
	reflect.TypeFor[api.TaskGroup]():       {"Name", "Count", "ShutdownDelay", "Networks", "Services", "Tasks"},
	reflect.TypeFor[api.NetworkResource](): {"Mode", "ReservedPorts", "DynamicPorts"},
	reflect.TypeFor[api.Port]():            {"Label", "Value", "To"},
	reflect.TypeFor[api.Service]():         {"Name", "PortLabel", "Tags", "Checks"},
	reflect.TypeFor[api.ServiceCheck]():    {"Type", "Path", "Interval", "Timeout"},
	reflect.TypeFor[api.Task]():            {"Name", "Driver", "Config", "KillTimeout", "Env", "Resources"},
	reflect.TypeFor[api.Resources]():       {"CPU", "MemoryMB", "MemoryMaxMB"},
}

// unsupported returns an error naming the first field of job that HCL does
// not write.
func unsupported(job *api.Job) error {
	return walkWritten(reflect.ValueOf(job), "Job")
}

func walkWritten(v reflect.Value, path string) error {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return walkWritten(v.Elem(), path)
	case reflect.Slice:
		for i := range v.Len() {
			if err := walkWritten(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	case reflect.Struct:
		fields, ok := written[v.Type()]
		if !ok {
			return nil
		}
		for i := range v.NumField() {
			name := v.Type().Field(i).Name
			f := v.Field(i)
			if !slices.Contains(fields, name) {
				if !f.IsZero() {
					return fmt.Errorf("generator: %s.%s is set, but the HCL writer does not write it", path, name)
				}
				continue
			}
			if err := walkWritten(f, path+"."+name); err != nil {
				return err
			}
		}
	}
	return nil
}
