package main

import (
	"errors"
	"time"

	"meshwork.dev/platform/service"
)

// config is the service's environment (docs/logistics.md).
type config struct {
	service.Config
	service.ServiceAccount
	DatabaseURL string `env:"DATABASE_URL,required"`
	RedisURL    string `env:"REDIS_URL,required"`
	CatalogAddr string `env:"CATALOG_ADDR" default:"127.0.0.1:7000"`
	// The service area: every H3 cell within CityRadius steps of the centre at Resolution.
	Resolution int     `env:"H3_RESOLUTION" default:"9"`
	CityLat    float64 `env:"CITY_LAT" default:"52.37"`
	CityLng    float64 `env:"CITY_LNG" default:"4.90"`
	CityRadius int     `env:"CITY_RADIUS_CELLS" default:"60"`
	// The travel-time model.
	DefaultSpeed    float64       `env:"DEFAULT_SPEED_MPS" default:"8.3"`
	BucketMinutes   int           `env:"BUCKET_MINUTES" default:"60"`
	PublishInterval time.Duration `env:"TRAVEL_TIMES_INTERVAL" default:"1m"`
}

// load reads cfg and checks the values LoadConfig cannot, reporting every problem at once.
func load(getenv func(string) string, cfg *config) error {
	err := service.LoadConfig(getenv, cfg)
	var ce *service.ConfigError
	if err != nil && !errors.As(err, &ce) {
		return err
	}
	if ce == nil {
		ce = &service.ConfigError{}
	}
	check := func(ok bool, name, problem string) {
		if !ok {
			ce.Problems = append(ce.Problems, service.ConfigProblem{Var: name, Problem: problem})
		}
	}
	check(cfg.Resolution >= 0 && cfg.Resolution <= 15, "H3_RESOLUTION", "must be between 0 and 15")
	check(cfg.CityLat >= -90 && cfg.CityLat <= 90, "CITY_LAT", "must be between -90 and 90")
	check(cfg.CityLng >= -180 && cfg.CityLng <= 180, "CITY_LNG", "must be between -180 and 180")
	check(cfg.CityRadius >= 1 && cfg.CityRadius <= 300, "CITY_RADIUS_CELLS", "must be between 1 and 300")
	check(cfg.DefaultSpeed > 0, "DEFAULT_SPEED_MPS", "must be positive")
	check(cfg.BucketMinutes > 0 && 1440%cfg.BucketMinutes == 0, "BUCKET_MINUTES", "must divide 1440")
	check(cfg.PublishInterval > 0, "TRAVEL_TIMES_INTERVAL", "must be positive")
	if len(ce.Problems) > 0 {
		return ce
	}
	return nil
}
