// Package virtual is a gateway adapter of simulated devices, for demos,
// tests and examples: lights, a thermostat, a smart plug with a power
// meter, a whole-home energy meter, a washing machine and door or window
// sensors. They behave like real devices: a room warms toward its target,
// a washing cycle takes time, the home's consumption follows the
// household's day, and every change is pushed to the gateway.
//
// # Tour
//
// Make devices with their New functions (or take a whole home from
// NewHome), add them to an Adapter, and give the Adapter to a gateway:
//
//	a := virtual.New(virtual.Config{})
//	defer a.Close()
//	a.Add(virtual.NewHome(42, time.Local)...)
//	door := virtual.NewContactSensor("urn:hearth:home:back-door", "Back door", virtual.ContactSensorOptions{})
//	a.Add(door)      // devices may be added and removed at any time
//	door.SetOpen(true) // and driven directly; the gateway is told
//
// Each device's Thing Description uses the WebThings capability vocabulary
// (https://webthings.io/schemas): @type values such as Light, SmartPlug,
// EnergyMonitor, Thermostat and DoorSensor on the thing, OnOffProperty,
// BrightnessProperty, InstantaneousPowerProperty, TemperatureProperty and
// OpenProperty on its properties, with units, ranges and readOnly set as a
// real device would; the gateway replaces their placeholder forms with its
// own. Thing ids must be absolute URIs, as TD 1.1 requires.
//
// The Adapter implements gateway.Adapter and the optional capabilities
// gateway.PropertyWriter, gateway.ActionInvoker, gateway.EventSource (each
// change, event, addition and removal is delivered to the gateway's Sink),
// gateway.Remover and gateway.Pairer (pairing "finds" a new virtual
// device after a short delay).
//
// # Time
//
// The simulation runs on real time: values are computed from time.Now when
// read, and actions wait on real timers. Nothing is injected, so tests run
// simulations of hours in milliseconds inside a testing/synctest bubble,
// where time is virtual (create the Adapter and devices inside the bubble).
// Subscriptions sample the properties that change on their own every
// Config.PollInterval and report those that changed.
//
// # Energy history
//
// EnergyMeter models a holiday home's whole consumption minute by minute
// as a pure function of a seed and the time: a booking calendar (stays
// from Saturday to Saturday), daily routines, dusk, seasonal heating and
// appliance spikes. EnergyMeter.History returns any period, past or
// future, at any step, identical for the same seed; Sample.Occupied gives
// the ground truth that a model learning from the readings might try to
// infer, which is exactly the kind of inference consent must govern.
//
// # Concurrency
//
// An Adapter and every Device are safe for concurrent use. Changes reach
// each subscription's Sink in the order they happened, from the
// subscription's own goroutine, never while a device is locked; a Sink
// that falls more than Config.QueueLimit changes behind loses the oldest.
//
// # Privacy
//
// The devices are simulated and nothing leaves the process. The energy
// meter exposes only power and energy; its occupancy ground truth is
// available to Go code for evaluating models, not through the gateway.
package virtual
