export { openControlChannel, type ControlChannel } from './listener.ts';
export { ControlChannelError, sendToRunningServer } from './client.ts';
export { CONTROL_SOCKET, controlSocketPath, MAX_REQUEST_BYTES, type ControlReply } from './protocol.ts';
