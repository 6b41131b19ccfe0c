package rpc

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	schedulingv1 "meshwork.dev/contracts/gen/go/mesh/scheduling/v1"
	"meshwork.dev/domains/scheduling/dispatch"
	"meshwork.dev/domains/scheduling/job"
	"meshwork.dev/domains/scheduling/postgres"
	"meshwork.dev/domains/scheduling/stream"
	"meshwork.dev/platform/auth"
	"meshwork.dev/platform/errs"
)

// Handler serves SchedulingService.
type Handler struct {
	schedulingv1.UnimplementedSchedulingServiceServer
	store *postgres.Store
	disp  *dispatch.Dispatcher
	files FileChecker
	log   *slog.Logger
	now   func() time.Time
}

// New returns a handler; files checks report files on completion.
func New(store *postgres.Store, disp *dispatch.Dispatcher, files FileChecker, log *slog.Logger) *Handler {
	return &Handler{store: store, disp: disp, files: files, log: log, now: time.Now}
}

// self reports whether the caller may act on engineer id's own data: dispatchers and admins
// always, an engineer only on their own.
func self(ctx context.Context, op, id string) error {
	c, ok := auth.FromContext(ctx)
	if !ok {
		return errs.E(op, errs.Unauthenticated, "missing bearer token")
	}
	if c.HasRole(dispatcher) || c.HasRole(admin) || c.Subject == id {
		return nil
	}
	return errs.E(op, errs.Forbidden, "engineers may only see their own schedule")
}

func required(field, v string) []errs.Violation {
	if v == "" {
		return []errs.Violation{{Field: field, Description: "is required"}}
	}
	return nil
}

func (h *Handler) replan(ctx context.Context) {
	if _, err := h.disp.Replan(ctx); err != nil {
		h.log.WarnContext(ctx, "replan failed", "err", err)
	}
}

// GetEngineer returns an engineer.
func (h *Handler) GetEngineer(ctx context.Context, r *schedulingv1.GetEngineerRequest) (*schedulingv1.GetEngineerResponse, error) {
	const op = "rpc.GetEngineer"
	if v := required("id", r.GetId()); v != nil {
		return nil, errs.BadRequest(op, v...)
	}
	if err := self(ctx, op, r.GetId()); err != nil {
		return nil, err
	}
	e, err := h.store.Engineer(ctx, r.GetId())
	if err != nil {
		return nil, err
	}
	return &schedulingv1.GetEngineerResponse{Engineer: engineerProto(e)}, nil
}

// ListEngineers lists engineers.
func (h *Handler) ListEngineers(ctx context.Context, r *schedulingv1.ListEngineersRequest) (*schedulingv1.ListEngineersResponse, error) {
	limit, err := postgres.Page(r.GetPageSize())
	if err != nil {
		return nil, err
	}
	es, next, err := h.store.ListEngineers(ctx, false, limit, r.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &schedulingv1.ListEngineersResponse{NextPageToken: next}
	for _, e := range es {
		out.Engineers = append(out.Engineers, engineerProto(e))
	}
	return out, nil
}

// UpdateEngineer replaces an engineer's planning data and replans.
func (h *Handler) UpdateEngineer(ctx context.Context, r *schedulingv1.UpdateEngineerRequest) (*schedulingv1.UpdateEngineerResponse, error) {
	const op = "rpc.UpdateEngineer"
	e := r.GetEngineer()
	v := required("engineer.id", e.GetId())
	if hb := e.GetHomeBase(); hb.GetLat() < -90 || hb.GetLat() > 90 || hb.GetLng() < -180 || hb.GetLng() > 180 {
		v = append(v, errs.Violation{Field: "engineer.home_base", Description: "must be a WGS84 point"})
	}
	pe := job.Engineer{ID: e.GetId(), Skills: e.GetSkills(), Home: job.LatLng{Lat: e.GetHomeBase().GetLat(), Lng: e.GetHomeBase().GetLng()}}
	for i, s := range e.GetShifts() {
		if s.GetWeekday() < 0 || s.GetWeekday() > 6 || s.GetStartMinute() < 0 || s.GetEndMinute() > 24*60 || s.GetEndMinute() <= s.GetStartMinute() {
			v = append(v, errs.Violation{Field: "engineer.shifts[" + itoa(i) + "]", Description: "needs weekday 0..6 and 0 <= start_minute < end_minute <= 1440"})
		}
		pe.Shifts = append(pe.Shifts, job.Shift{Weekday: time.Weekday(s.GetWeekday()), Start: int(s.GetStartMinute()), End: int(s.GetEndMinute())})
	}
	for i, s := range e.GetSkills() {
		if s == "" {
			v = append(v, errs.Violation{Field: "engineer.skills[" + itoa(i) + "]", Description: "must not be empty"})
		}
	}
	if len(v) > 0 {
		return nil, errs.BadRequest(op, v...)
	}
	got, err := h.store.UpdateEngineer(ctx, pe)
	if err != nil {
		return nil, err
	}
	h.replan(ctx)
	return &schedulingv1.UpdateEngineerResponse{Engineer: engineerProto(got)}, nil
}

// CreateJob opens a manual job and plans it.
func (h *Handler) CreateJob(ctx context.Context, r *schedulingv1.CreateJobRequest) (*schedulingv1.CreateJobResponse, error) {
	const op = "rpc.CreateJob"
	v := required("machine_id", r.GetMachineId())
	v = append(v, required("required_skill", r.GetRequiredSkill())...)
	if p := r.GetPriority(); p < job.Highest || p > job.Lowest {
		v = append(v, errs.Violation{Field: "priority", Description: "must be between 1 (highest) and 5 (lowest)"})
	}
	if d := r.GetDurationMinutes(); d < 1 || d > 720 {
		v = append(v, errs.Violation{Field: "duration_minutes", Description: "must be between 1 and 720"})
	}
	due := h.now().Add(24 * time.Hour)
	if r.GetDueAt() != nil {
		if !r.GetDueAt().IsValid() {
			v = append(v, errs.Violation{Field: "due_at", Description: "is not a valid timestamp"})
		}
		due = r.GetDueAt().AsTime()
	}
	if len(v) > 0 {
		return nil, errs.BadRequest(op, v...)
	}
	rec, err := h.store.CreateJob(ctx, job.Record{Job: job.Job{Kind: job.Manual, MachineID: r.GetMachineId(), Priority: int(r.GetPriority()),
		Skill: r.GetRequiredSkill(), Duration: time.Duration(r.GetDurationMinutes()) * time.Minute, Due: due}, Cause: job.ManualCause, Reason: r.GetReason()})
	if err != nil {
		return nil, err
	}
	h.replan(ctx)
	if got, err := h.store.Job(ctx, rec.ID); err == nil {
		rec = got
	}
	return &schedulingv1.CreateJobResponse{Job: stream.JobProto(rec)}, nil
}

// CancelJob cancels a job.
func (h *Handler) CancelJob(ctx context.Context, r *schedulingv1.CancelJobRequest) (*schedulingv1.CancelJobResponse, error) {
	if v := required("id", r.GetId()); v != nil {
		return nil, errs.BadRequest("rpc.CancelJob", v...)
	}
	rec, err := h.store.CancelJob(ctx, r.GetId(), job.ManualCause)
	if err != nil {
		return nil, err
	}
	return &schedulingv1.CancelJobResponse{Job: stream.JobProto(rec)}, nil
}

// CompleteJob completes a job; an engineer may complete only their own.
func (h *Handler) CompleteJob(ctx context.Context, r *schedulingv1.CompleteJobRequest) (*schedulingv1.CompleteJobResponse, error) {
	const op = "rpc.CompleteJob"
	if v := required("id", r.GetId()); v != nil {
		return nil, errs.BadRequest(op, v...)
	}
	cur, err := h.store.Job(ctx, r.GetId())
	if err != nil {
		return nil, err
	}
	if err := self(ctx, op, cur.EngineerID); err != nil {
		return nil, err
	}
	if id := r.GetReportFileId(); id != "" {
		if err := h.files(ctx, id); err != nil {
			return nil, err
		}
	}
	rec, err := h.store.CompleteJob(ctx, r.GetId(), r.GetReportFileId())
	if err != nil {
		return nil, err
	}
	return &schedulingv1.CompleteJobResponse{Job: stream.JobProto(rec)}, nil
}

// ListJobs lists jobs in a state.
func (h *Handler) ListJobs(ctx context.Context, r *schedulingv1.ListJobsRequest) (*schedulingv1.ListJobsResponse, error) {
	limit, err := postgres.Page(r.GetPageSize())
	if err != nil {
		return nil, err
	}
	if _, ok := schedulingv1.JobState_name[int32(r.GetState())]; !ok {
		return nil, errs.BadRequest("rpc.ListJobs", errs.Violation{Field: "state", Description: "is not a JobState"})
	}
	jobs, next, err := h.store.ListJobs(ctx, job.State(r.GetState()), limit, r.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &schedulingv1.ListJobsResponse{NextPageToken: next}
	for _, j := range jobs {
		out.Jobs = append(out.Jobs, stream.JobProto(j))
	}
	return out, nil
}

// GetEngineerSchedule returns the engineer's day as an ordered route.
func (h *Handler) GetEngineerSchedule(ctx context.Context, r *schedulingv1.GetEngineerScheduleRequest) (*schedulingv1.GetEngineerScheduleResponse, error) {
	const op = "rpc.GetEngineerSchedule"
	v := required("engineer_id", r.GetEngineerId())
	if !r.GetDay().IsValid() {
		v = append(v, errs.Violation{Field: "day", Description: "is required: any instant in the UTC day"})
	}
	if len(v) > 0 {
		return nil, errs.BadRequest(op, v...)
	}
	if err := self(ctx, op, r.GetEngineerId()); err != nil {
		return nil, err
	}
	if _, err := h.store.Engineer(ctx, r.GetEngineerId()); err != nil {
		return nil, err
	}
	day := r.GetDay().AsTime().UTC().Truncate(24 * time.Hour)
	jobs, err := h.store.Schedule(ctx, r.GetEngineerId(), day, day.Add(24*time.Hour))
	if err != nil {
		return nil, err
	}
	out := &schedulingv1.GetEngineerScheduleResponse{EngineerId: r.GetEngineerId()}
	var total time.Duration
	for _, j := range jobs {
		total += j.Travel
		out.Stops = append(out.Stops, &schedulingv1.Stop{Job: stream.JobProto(j),
			Location: &schedulingv1.LatLng{Lat: j.Location.Lat, Lng: j.Location.Lng},
			ArriveAt: timestamppb.New(j.Starts), DepartAt: timestamppb.New(j.Ends), Travel: durationpb.New(j.Travel)})
	}
	out.TotalTravel = durationpb.New(total)
	return out, nil
}

// GetCalloutSavings returns the call-outs avoided and hours saved in a period, and next to
// them the failures that were declared faults (postgres.Store.Savings says how they are found).
func (h *Handler) GetCalloutSavings(ctx context.Context, r *schedulingv1.GetCalloutSavingsRequest) (*schedulingv1.GetCalloutSavingsResponse, error) {
	const op = "rpc.GetCalloutSavings"
	if !r.GetFrom().IsValid() {
		return nil, errs.BadRequest(op, errs.Violation{Field: "from", Description: "is required"})
	}
	to := h.now()
	if r.GetTo() != nil {
		to = r.GetTo().AsTime()
	}
	if !to.After(r.GetFrom().AsTime()) {
		return nil, errs.BadRequest(op, errs.Violation{Field: "to", Description: "must be after from"})
	}
	sv, err := h.store.Savings(ctx, r.GetFrom().AsTime(), to)
	if err != nil {
		return nil, err
	}
	out := &schedulingv1.GetCalloutSavingsResponse{}
	for _, s := range sv {
		out.CalloutsAvoided += s.CalloutsAvoided
		out.HoursSaved += s.HoursSaved
		out.FailuresDeclaredFaults += s.Failures
		out.ByCause = append(out.ByCause, &schedulingv1.CauseSavings{Cause: schedulingv1.Cause(s.Cause), CalloutsAvoided: s.CalloutsAvoided, HoursSaved: s.HoursSaved})
	}
	return out, nil
}

func engineerProto(e postgres.Engineer) *schedulingv1.Engineer {
	p := &schedulingv1.Engineer{Id: e.ID, DisplayName: e.DisplayName, Skills: slices.Clone(e.Skills), Active: e.Active,
		HomeBase: &schedulingv1.LatLng{Lat: e.Home.Lat, Lng: e.Home.Lng}}
	for _, s := range e.Shifts {
		p.Shifts = append(p.Shifts, &schedulingv1.Shift{Weekday: int32(s.Weekday), StartMinute: int32(s.Start), EndMinute: int32(s.End)})
	}
	return p
}

func itoa(i int) string { return strconv.Itoa(i) }
