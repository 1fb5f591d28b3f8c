// Timers for the creator simulator. A page's own timers are throttled while
// its tab is hidden (to once a minute after a few minutes); a dedicated
// worker's are not, and the audio must keep flowing in real time.
self.onmessage = ({ data }) => {
  setTimeout(() => self.postMessage(data.id), data.ms);
};
