package virtual

import "time"

// HomeIDPrefix starts the thing ids of the devices of NewHome.
const HomeIDPrefix = "urn:hearth:home:"

// NewHome returns the devices of a typical holiday home, for demos: a
// dimmable living-room light, a bedroom light, a thermostat, a kitchen
// smart plug (a 1.2 kW heater), a washing machine, a front-door and a
// bathroom-window sensor, and a whole-home energy meter whose household is
// drawn from seed and whose routines follow loc (nil means UTC). Their ids
// are HomeIDPrefix followed by "living-room-light", "bedroom-light",
// "thermostat", "kitchen-plug", "washing-machine", "front-door",
// "bathroom-window" and "energy-meter". Add them with Adapter.Add.
func NewHome(seed uint64, loc *time.Location) []Device {
	return []Device{
		NewDimmableLight(HomeIDPrefix+"living-room-light", "Living room light"),
		NewLight(HomeIDPrefix+"bedroom-light", "Bedroom light"),
		NewThermostat(HomeIDPrefix+"thermostat", "Thermostat", ThermostatOptions{Initial: 17}),
		NewSmartPlug(HomeIDPrefix+"kitchen-plug", "Kitchen plug", SmartPlugOptions{Seed: seed, Load: 1200}),
		NewWashingMachine(HomeIDPrefix+"washing-machine", "Washing machine", WashingMachineOptions{}),
		NewContactSensor(HomeIDPrefix+"front-door", "Front door", ContactSensorOptions{}),
		NewContactSensor(HomeIDPrefix+"bathroom-window", "Bathroom window", ContactSensorOptions{Window: true}),
		NewEnergyMeter(HomeIDPrefix+"energy-meter", "Energy meter", EnergyMeterOptions{Seed: seed, Location: loc}),
	}
}
