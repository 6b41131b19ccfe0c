package service

import (
	"reflect"

	"meshwork.dev/platform/dataproduct"
)

// applyReplicas hands NATS_REPLICAS of the Config in v (v itself or embedded in it) to
// dataproduct, so that every stream the service provisions gets the deployment's replica
// count without each domain passing it along. A struct without a Config leaves it alone.
func applyReplicas(v reflect.Value, ce *ConfigError) {
	cfg, ok := findConfig(v)
	if !ok {
		return
	}
	if err := dataproduct.SetStreamReplicas(cfg.NATSReplicas); err != nil {
		ce.add("NATS_REPLICAS", "must be between 1 and 5, got %d", cfg.NATSReplicas)
	}
}

func findConfig(v reflect.Value) (Config, bool) {
	if c, ok := v.Interface().(Config); ok {
		return c, true
	}
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct && f.IsExported() {
			if c, ok := findConfig(v.Field(i)); ok {
				return c, true
			}
		}
	}
	return Config{}, false
}
