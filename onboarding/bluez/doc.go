// Package bluez is the real radio of Hearth onboarding on Linux: Bluetooth
// LE through BlueZ over D-Bus, by way of tinygo.org/x/bluetooth. A Radio
// plays both roles: onboarding.Central for a commissioner (a gateway, or a
// phone app in Go) and onboarding.Peripheral for a device (say, a
// Raspberry Pi based appliance).
//
// # Hardware
//
// It needs a Bluetooth LE adapter and a running bluetoothd (BlueZ 5.48 or
// later, for LEAdvertisingManager1 and GattManager1), and the process needs
// access to the system D-Bus (root, or a polkit/D-Bus policy that allows
// org.bluez). Hearth's CI has no Bluetooth hardware: it builds this package
// for linux/amd64 and linux/arm64 but cannot run it, so it is exercised
// only by hand on hardware; for the same reason its examples (a device and
// a commissioner) are compiled but not run. Everything above the radio
// (framing, retransmission, the secure session, both state machines) is
// tested over package simradio, which implements the same interfaces.
//
// # GATT layout
//
// The device registers one primary service, onboarding.ServiceUUID, with
// two characteristics: RX (onboarding.RXUUID; write, write without
// response), which the commissioner writes frames to, and TX
// (onboarding.TXUUID; read, notify), on which the device notifies frames.
// While its commissioning window is open the device advertises its Hearth
// service data (6 bytes) under the service UUID. The commissioner writes
// without response and receives notifications, so a message of several
// frames costs one radio round trip, not one per frame.
//
// # Limits
//
//   - Peripheral role: BlueZ does not tell a GATT server which central
//     wrote (tinygo reports connection 0 for every write), so a Radio
//     serves one link at a time: frames from a second central would mix
//     with the first's, fail reassembly or authentication, and be dropped.
//     The device stops advertising once a session is established, which
//     keeps second centrals away.
//   - Peripheral role: the negotiated ATT MTU is not visible either, so the
//     device sends 20-byte frames (Radio.PeripheralMTU to change).
//   - tinygo's Connect cannot be cancelled; when ctx ends first, Connect
//     returns and disconnects the device once BlueZ answers.
//   - A Radio installs the adapter's connection-state handler
//     (SetConnectionStateHandler) to notice disconnections; do not replace
//     it while the Radio is in use.
//
// # Privacy
//
// Bluetooth addresses never leave this package: the onboarding.Peer a scan
// reports keeps the address unexported and prints as "BLE device", and
// errors are returned without D-Bus object paths (which contain the
// address). The address is held in memory only while the Session needs it.
package bluez
