package onboarding

// State is a commissioning Session's state. See the package documentation
// for the transition table. It is a plain value, safe for concurrent use.
type State uint8

// Session states.
const (
	// Idle: nothing has happened yet, or Reset was called.
	Idle State = iota
	// Scanning: looking for a device whose advertised discriminator
	// matches the setup payload; stops by itself after ScanTimeout.
	Scanning
	// Discovered: a matching device was found; its advertised protocol
	// versions are checked.
	Discovered
	// Connecting: opening the radio link and exchanging versions and
	// capabilities (Hello).
	Connecting
	// Authenticating: running SPAKE2+ keyed by the setup code, with key
	// confirmation both ways.
	Authenticating
	// Provisioning: handing the device the Wi-Fi credentials over the
	// encrypted session.
	Provisioning
	// Joining: the device is joining the network; Progress.Join reports
	// connecting, connected or failed.
	Joining
	// Registering: the device's Thing Description and identity go to the
	// Registrar, then the device is told to commit.
	Registering
	// Complete: the device committed and is registered. Terminal.
	Complete
	// Failed: something went wrong; Progress.Err and the error Commission
	// returned say what. Terminal until Reset.
	Failed
	// Cancelled: Cancel was called or the context ended. Terminal until
	// Reset.
	Cancelled
)

var stateNames = [...]string{"Idle", "Scanning", "Discovered", "Connecting", "Authenticating", "Provisioning", "Joining", "Registering", "Complete", "Failed", "Cancelled"}

// String returns the state's name.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "State(?)"
}

// Terminal reports whether s ends a run: Complete, Failed or Cancelled.
func (s State) Terminal() bool { return s >= Complete }

// transitions is the transition table, the single source of truth the
// Session enforces: transitions[from] lists the states it may enter next.
// Failed and Cancelled are reachable from every non-terminal state; Reset
// leads from every terminal state back to Idle.
var transitions = map[State][]State{
	Idle:           {Scanning, Failed, Cancelled},
	Scanning:       {Discovered, Failed, Cancelled},
	Discovered:     {Connecting, Failed, Cancelled},
	Connecting:     {Authenticating, Failed, Cancelled},
	Authenticating: {Provisioning, Failed, Cancelled},
	Provisioning:   {Joining, Failed, Cancelled},
	Joining:        {Registering, Provisioning, Failed, Cancelled},
	Registering:    {Complete, Failed, Cancelled},
	Complete:       {Idle},
	Failed:         {Idle},
	Cancelled:      {Idle},
}

// CanTransition reports whether the table allows from → to.
func CanTransition(from, to State) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// JoinState is the device's progress joining the network, reported while
// the Session is Joining. It is a plain value, safe for concurrent use.
type JoinState uint8

// Join states (the values travel on the wire).
const (
	JoinUnknown    JoinState = iota
	JoinConnecting           // the device has the credentials and is joining
	JoinConnected            // the device joined
	JoinFailed               // the device could not join; see JoinError
)

// String returns "connecting", "connected", "failed" or "unknown".
func (j JoinState) String() string {
	switch j {
	case JoinConnecting:
		return "connecting"
	case JoinConnected:
		return "connected"
	case JoinFailed:
		return "failed"
	}
	return "unknown"
}

// Progress is one step of a Session, as reported to Config.OnProgress. It
// is plain data, safe for concurrent use: the Session does not modify a
// Progress it has reported.
type Progress struct {
	// State is the state the Session entered (or is in, for Join updates).
	State State
	// Join is the device's join progress while State is Joining.
	Join JoinState
	// Err is why the Session failed, when State is Failed or Cancelled; a
	// *JoinError while Joining with Join == JoinFailed.
	Err error
	// ThingID is the device's Thing Description id, once known
	// (Registering and Complete).
	ThingID string
}
